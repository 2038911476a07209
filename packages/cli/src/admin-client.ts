import { CliError, type Io } from './io.js';

/**
 * Exit statuses of the commands that talk to a running server, so that scripts can tell a typo
 * from an outage from a wrong key.
 */
export const EXIT = {
  ok: 0,
  /** The server answered with another error (a 5xx: the store is down, say). */
  failed: 1,
  usage: 2,
  unreachable: 3,
  notFound: 4,
  unauthenticated: 5,
} as const;

export const DEFAULT_URL = 'http://127.0.0.1:8080';
const TIMEOUT_MS = 10_000;
/** What an HTTP header value may hold: a key outside it could never be sent. */
const HEADER_SAFE = /^[\x21-\x7e]+$/;

export type NotFoundMeans = 'no-such-session' | 'not-vigil';

export interface ServerFlags {
  url?: string | undefined;
  'api-key'?: string | undefined;
}

/** What a successful call returns: the JSON body (null for `204`). */
export interface Answer<T> {
  body: T;
}

/**
 * Calls a running Vigil's backend API. URL from `--url`, else `VIGIL_URL`, else the default of
 * `vigil serve`; key from `--api-key`, else `VIGIL_API_KEY` (the environment keeps the key out of
 * the process list and shell history).
 */
export class AdminClient {
  readonly url: string;
  readonly #key: string;
  /** Where the key came from, for the message when the server refuses it. */
  readonly #keySource: string;

  constructor(url: string, key: string, keySource = 'VIGIL_API_KEY') {
    this.url = url;
    this.#key = key;
    this.#keySource = keySource;
  }

  static fromFlags(flags: ServerFlags, io: Io): AdminClient {
    const raw = flags.url ?? io.env.VIGIL_URL ?? DEFAULT_URL;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new CliError(`the server URL is not a URL: "${raw}" (e.g. ${DEFAULT_URL})`, EXIT.usage);
    }
    if (url.username !== '' || url.password !== '') {
      // Never echoed: it may hold a password. Vigil takes its key in a header, not in the URL.
      throw new CliError(
        'the server URL must not hold a user name or password (the API key goes in VIGIL_API_KEY)',
        EXIT.usage,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(`the server URL must be http:// or https://, not "${raw}"`, EXIT.usage);
    }
    const keySource = flags['api-key'] === undefined ? 'VIGIL_API_KEY' : '--api-key';
    const key = flags['api-key'] ?? io.env.VIGIL_API_KEY ?? '';
    if (key === '') {
      throw new CliError('no API key: set VIGIL_API_KEY (or pass --api-key KEY)', EXIT.usage);
    }
    if (!HEADER_SAFE.test(key)) {
      throw new CliError(
        `the API key in ${keySource} holds spaces or characters outside printable ASCII: no server could receive it`,
        EXIT.usage,
      );
    }
    return new AdminClient(url.href.replace(/\/+$/, ''), key, keySource);
  }

  /**
   * One call. A `404` from Vigil means "no such session" only for a call that names one; for any
   * other call it means the URL does not lead to Vigil's API (a wrong base path, say).
   */
  async call<T>(
    method: string,
    path: string,
    notFoundMeans: NotFoundMeans = 'not-vigil',
  ): Promise<Answer<T>> {
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.#key}`, accept: 'application/json' },
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const { name, cause } = error as { name?: string; cause?: { code?: string; message?: string } };
      const why =
        name === 'TimeoutError'
          ? `no answer within ${TIMEOUT_MS / 1000} s`
          : (cause?.code ?? cause?.message ?? name);
      throw new CliError(`cannot reach the server at ${this.url} (${why})`, EXIT.unreachable);
    }
    const text = await response.text();
    if (response.ok) return { body: parseBody<T>(text, response.status, this.url) };
    throw refusal(response.status, text, this.url, this.#keySource, notFoundMeans);
  }
}

/** A 2xx body: JSON, or nothing for `204`; anything else came from something that is not Vigil. */
function parseBody<T>(text: string, status: number, url: string): T {
  if (text === '') return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new CliError(`${url} does not look like a Vigil server (HTTP ${status}, not JSON)`, EXIT.failed);
  }
}

/** A refusal as a message and an exit status; the server's `error.code` and message are kept. */
function refusal(
  status: number,
  text: string,
  url: string,
  keySource: string,
  notFoundMeans: NotFoundMeans,
): CliError {
  let code = '';
  let message = '';
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? '';
  } catch {
    // not Vigil's JSON (a proxy's page?): the status says enough
  }
  const detail = code === '' ? `HTTP ${status}` : `${status} ${code}${message === '' ? '' : `: ${message}`}`;
  if (status === 401 || status === 403) {
    return new CliError(
      `the server refused the API key (${detail}); check ${keySource}`,
      EXIT.unauthenticated,
    );
  }
  if (status === 404 && (code === '' || notFoundMeans === 'not-vigil')) {
    return new CliError(`${url} does not look like a Vigil server (${detail})`, EXIT.failed);
  }
  if (status === 404) return new CliError(detail, EXIT.notFound);
  return new CliError(`the server answered ${detail}`, EXIT.failed);
}
