// A small HTTP client for load on loopback: keep-alive sockets, at most `maxInFlight` requests at a
// time, and for every answer the moment the request was handed to the socket and the moment its last
// byte arrived, which is what the oracle reasons with. Network failures are answers too (status 0).
import { Agent, type IncomingHttpHeaders, request } from 'node:http';

export interface Reply {
  /** 0 when no HTTP answer came (connection refused or reset). */
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked field by field.
  body: any;
  headers: IncomingHttpHeaders;
  /** `Date.now()` just before the request was written: the server saw it no earlier. */
  sentAt: number;
  /** `Date.now()` once the whole answer was read: the server decided no later. */
  answeredAt: number;
  /** The network error, for status 0. */
  error?: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** Sent as JSON (with its Content-Type). */
  json?: unknown;
}

export class LoopbackClient {
  readonly #base: URL;
  readonly #agent: Agent;
  readonly #maxInFlight: number;
  #inFlight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(baseUrl: string, maxInFlight = 48) {
    this.#base = new URL(baseUrl);
    this.#maxInFlight = maxInFlight;
    this.#agent = new Agent({ keepAlive: true, maxSockets: maxInFlight });
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    await this.#acquire();
    try {
      return await this.#send(method, path, options);
    } finally {
      this.#release();
    }
  }

  close(): void {
    this.#agent.destroy();
  }

  #send(method: string, path: string, { headers = {}, json }: RequestOptions): Promise<Reply> {
    const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
    const allHeaders: Record<string, string | number> = { ...headers };
    if (payload !== undefined) {
      allHeaders['content-type'] = 'application/json';
      allHeaders['content-length'] = payload.length;
    }
    return new Promise((resolve) => {
      const sentAt = Date.now();
      const failed = (error: Error) =>
        resolve({ status: 0, body: null, headers: {}, sentAt, answeredAt: Date.now(), error: error.message });
      const req = request(
        {
          host: this.#base.hostname,
          port: this.#base.port,
          method,
          path,
          headers: allHeaders,
          agent: this.#agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', failed);
          res.on('end', () => {
            const answeredAt = Date.now();
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = text === '' ? null : JSON.parse(text);
            } catch {
              // not JSON: kept as text, and the checks say so
            }
            resolve({ status: res.statusCode ?? 0, body, headers: res.headers, sentAt, answeredAt });
          });
        },
      );
      req.on('error', failed);
      req.end(payload);
    });
  }

  async #acquire(): Promise<void> {
    if (this.#inFlight < this.#maxInFlight) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#inFlight--;
  }
}
