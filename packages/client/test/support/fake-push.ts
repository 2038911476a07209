import type { FakeServer } from './fake-server.js';

type Handler<E> = ((event: E) => void) | null;

/** How the fake accepts a new socket or stream. */
export type Admit = 'ok' | 'throw' | 'refuse';

/**
 * `/v1/ws` and `/v1/events` of DESIGN.md in a few lines, on top of a `FakeServer` (its sessions and
 * its HTTP answers), for unit tests: a `WebSocket` class and a `fetch` to give the SDK. Sockets
 * authenticate with a first `auth` message and answer heartbeats as the HTTP endpoint would; `push()`
 * sends what the server pushes to every open socket and stream. Everything happens in microtasks, so
 * `FakeTime.advance()` lets it run.
 */
export class FakePush {
  /** `throw`: the constructor throws (blocked); `refuse`: closes (1006) before it opens. */
  socketAdmit: Admit = 'ok';
  /** `throw`: a network error; `refuse`: a `404`. */
  streamAdmit: Admit = 'ok';
  sockets: FakeSocket[] = [];
  streams: Array<{ controller: ReadableStreamDefaultController<Uint8Array>; closed: boolean }> = [];
  /** Sockets take heartbeats but never answer them (a connection that died without a close). */
  silent = false;
  /** Every message the SDK sent on any socket, parsed. */
  sent: Array<Record<string, unknown>> = [];

  constructor(readonly server: FakeServer) {}

  get openSockets(): FakeSocket[] {
    return this.sockets.filter((s) => s.readyState === 1);
  }

  get openStreams(): number {
    return this.streams.filter((s) => !s.closed).length;
  }

  /** Pushes `warning`/`extended` with the current status, or `ended` (and ends the session). */
  push(type: 'warning' | 'extended' | 'ended', reason = 'revoked'): void {
    const now = this.server.time.now();
    if (type === 'ended') this.server.ended = reason;
    const data =
      type === 'ended' ? { reason, endedAt: new Date(now).toISOString() } : this.server.status(now);
    for (const socket of this.openSockets.filter((s) => s.authenticated)) {
      socket.receive({ type, ...data });
      if (type === 'ended') socket.serverClose(4401, reason);
    }
    for (const stream of this.streams.filter((s) => !s.closed)) {
      stream.controller.enqueue(encode(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`));
      if (type === 'ended') {
        stream.closed = true;
        stream.controller.close();
      }
    }
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    if (url.pathname !== '/v1/events') return this.server.fetch(input, init);
    this.server.calls.push({
      method: 'GET',
      path: url.pathname,
      body: undefined,
      at: this.server.time.now(),
    });
    if (this.streamAdmit === 'throw') throw new TypeError('fetch failed');
    if (this.streamAdmit === 'refuse') return new Response('{}', { status: 404 });
    if (this.server.ended) return this.server.fetch(`${url.origin}/v1/session`, {});
    const status = this.server.status(this.server.time.now());
    const entry = {
      controller: undefined as unknown as ReadableStreamDefaultController<Uint8Array>,
      closed: false,
    };
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        entry.controller = controller;
        controller.enqueue(encode(`event: status\ndata: ${JSON.stringify(status)}\n\n`));
      },
      cancel() {
        entry.closed = true;
      },
    });
    this.streams.push(entry);
    init?.signal?.addEventListener('abort', () => {
      entry.closed = true;
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  };

  get WebSocket(): typeof WebSocket {
    const push = this;
    return class extends FakeSocket {
      constructor(url: string | URL) {
        if (push.socketAdmit === 'throw') throw new DOMException('blocked', 'SecurityError');
        super(push, String(url));
      }
    } as unknown as typeof WebSocket;
  }
}

export class FakeSocket {
  readyState = 0;
  authenticated = false;
  onopen: Handler<Event> = null;
  onmessage: Handler<{ data: string }> = null;
  onclose: Handler<{ code: number; reason: string }> = null;
  closedBy: 'client' | 'server' | null = null;
  readonly openedAt: number;

  constructor(
    readonly push: FakePush,
    readonly url: string,
  ) {
    push.sockets.push(this);
    this.openedAt = push.server.time.now();
    queueMicrotask(() => {
      if (this.readyState !== 0) return;
      if (push.socketAdmit === 'refuse') this.serverClose(1006, '');
      else {
        this.readyState = 1;
        this.onopen?.(new Event('open'));
      }
    });
  }

  send(text: string): void {
    if (this.readyState !== 1) throw new DOMException('not open', 'InvalidStateError');
    const message = JSON.parse(text) as Record<string, unknown>;
    this.push.sent.push(message);
    void this.#answer(message);
  }

  async #answer(message: Record<string, unknown>): Promise<void> {
    const { server } = this.push;
    if (message.type === 'auth') {
      server.settle(server.time.now());
      if (server.ended) this.serverClose(4401, server.ended);
      else {
        this.authenticated = true;
        this.receive({ type: 'status', ...server.status(server.time.now()) });
      }
      return;
    }
    if (this.push.silent) return;
    const { type: _type, requestId, ...body } = message;
    const response = await server.fetch('https://vigil.test/v1/heartbeat', {
      method: 'POST',
      body: JSON.stringify(body),
    });
    const call = server.calls.at(-1);
    if (call) call.via = 'ws';
    const answer = (await response.json()) as Record<string, unknown> & {
      error?: { reason?: string; code: string };
    };
    if (this.readyState !== 1) return;
    if (response.status === 200) this.receive({ type: 'status', requestId, ...answer });
    else if (response.status === 401) {
      const reason = answer.error?.reason ?? 'unauthenticated';
      this.receive({ type: 'ended', reason });
      this.serverClose(4401, reason);
    } else {
      const retryAfter = response.headers.get('retry-after');
      this.receive({
        type: 'error',
        requestId,
        error: { code: answer.error?.code, retryAfterMs: retryAfter ? Number(retryAfter) * 1000 : undefined },
      });
    }
  }

  /** A message from the server. */
  receive(message: object): void {
    if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(message) });
  }

  /** The server closes (or the connection fails, 1006). */
  serverClose(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedBy = 'server';
    this.onclose?.({ code, reason });
  }

  close(): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedBy = 'client';
    queueMicrotask(() => this.onclose?.({ code: 1005, reason: '' }));
  }
}

const encode = (text: string) => new TextEncoder().encode(text);
