import type { IncomingMessage } from 'node:http';
import WebSocket, { type ClientOptions } from 'ws';

/** A message the server sent, as parsed JSON, with when it arrived. */
export type Received = Record<string, unknown> & { type: string; at: number };

/**
 * A `/v1/ws` client for tests (the `ws` package, as a Node app would use it): every message, the
 * close code and reason, and the pings the server sent, recorded as they come.
 */
export class SocketClient {
  readonly socket: WebSocket;
  readonly messages: Received[] = [];
  pings = 0;
  closed: { code: number; reason: string; at: number } | null = null;
  #waiters: (() => void)[] = [];
  #nextId = 0;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      this.messages.push({ ...JSON.parse(String(data)), at: Date.now() });
      this.#wake();
    });
    socket.on('ping', () => {
      this.pings++;
      this.#wake();
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString(), at: Date.now() };
      this.#wake();
    });
    socket.on('error', () => {});
  }

  /** Opens a socket to `${base}/v1/ws`; rejects with the HTTP answer if the upgrade is refused. */
  static open(base: string, headers: Record<string, string> = {}, options: ClientOptions = {}) {
    const url = `${base.replace(/^http/, 'ws')}/v1/ws`;
    return new Promise<SocketClient>((resolve, reject) => {
      const socket = new WebSocket(url, { headers, ...options });
      const client = new SocketClient(socket);
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (_request, response) => {
        void readBody(response).then((body) => reject(new RefusedUpgrade(response.statusCode ?? 0, body)));
      });
      socket.once('error', reject);
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends a heartbeat with a fresh `requestId` and resolves with the answer that echoes it. */
  async heartbeat(body: Record<string, unknown> = { state: 'active' }): Promise<Received> {
    const requestId = `r${++this.#nextId}`;
    this.send({ type: 'heartbeat', ...body, requestId });
    await this.until(() => this.#answer(requestId) !== undefined || this.closed !== null, 2000, requestId);
    const answer = this.#answer(requestId);
    if (answer === undefined) throw new Error(`closed before answering: ${JSON.stringify(this.closed)}`);
    return answer;
  }

  of(type: string): Received[] {
    return this.messages.filter((m) => m.type === type);
  }

  /** Resolves once `predicate` holds, or fails after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.messages)}, closed ${JSON.stringify(this.closed)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  next(type: string, timeoutMs?: number): Promise<void> {
    return this.until(() => this.messages.some((m) => m.type === type), timeoutMs, `a ${type} message`);
  }

  async closing(timeoutMs?: number): Promise<{ code: number; reason: string; at: number }> {
    await this.until(() => this.closed !== null, timeoutMs, 'the close');
    return this.closed as { code: number; reason: string; at: number };
  }

  close(): void {
    this.socket.close();
  }

  #answer(requestId: string): Received | undefined {
    return this.messages.find((m) => m.requestId === requestId);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

export class RefusedUpgrade extends Error {
  readonly status: number;
  readonly body: string;

  constructor(status: number, body: string) {
    super(`upgrade refused: ${status} ${body}`);
    this.status = status;
    this.body = body;
  }
}

function readBody(response: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      body += chunk;
    });
    response.on('end', () => resolve(body));
    response.on('close', () => resolve(body));
    response.on('error', () => resolve(body));
  });
}

/** The refusal of an upgrade that must not open. */
export async function refusal(
  base: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  try {
    const client = await SocketClient.open(base, headers);
    client.close();
  } catch (error) {
    if (error instanceof RefusedUpgrade) return { status: error.status, body: JSON.parse(error.body) };
    throw error;
  }
  throw new Error('the upgrade was accepted');
}
