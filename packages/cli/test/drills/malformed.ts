// Malformed requests mixed into real load: random bytes, broken and hostile JSON, wrong types, huge
// headers and bodies, bad tokens and keys, stalled requests — many of them carrying the live tokens of
// the simulated users. Every one must be refused with a 4xx (a JSON error once it reaches Vigil, or
// Node's own 400/431 for what is not HTTP at all) and must change nothing: the oracle judging the
// good users' answers at the same time would see any touch, revocation or logout they caused.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_KEY } from '../helpers.js';

export interface NoiseOptions {
  url: string;
  /** Live tokens of the good users (the oracle's), taken at random for hostile requests. */
  tokens: () => readonly string[];
  count: number;
  concurrency: number;
  /** Connections left half-sent (slowloris) for the whole run. */
  stalled: number;
}

export interface NoiseReport {
  sent: number;
  /** By kind: the statuses seen (`closed` when the server just closed the connection). */
  byKind: Record<string, Record<string, number>>;
  /** Answers outside what the kind allows, with the kind and a bit of the answer. */
  problems: string[];
}

interface RawAnswer {
  status: number | 'closed';
  headers: string;
  body: string;
}

/** What a kind sends and which statuses it may get. */
interface NoiseKind {
  name: string;
  allowed: readonly (number | 'closed')[];
  /** False for Node's own parser errors, which have no JSON body. */
  jsonError: boolean;
  build(token: string): Buffer;
}

const CRLF = '\r\n';

function http(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Buffer {
  const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (bytes !== undefined) lines.push(`content-length: ${bytes.length}`);
  const head = Buffer.from(lines.join(CRLF) + CRLF + CRLF, 'latin1');
  return bytes === undefined ? head : Buffer.concat([head, bytes]);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { 'content-type': 'application/json' };
const pickOne = <V>(values: readonly V[]): V => values[Math.floor(Math.random() * values.length)] as V;

/** The kinds, each refused before it can change anything. */
export const NOISE_KINDS: readonly NoiseKind[] = [
  {
    name: 'random bytes',
    allowed: [400, 'closed'],
    jsonError: false,
    build: () => randomBytes(1 + Math.floor(Math.random() * 2000)),
  },
  {
    name: 'not a method',
    allowed: [400, 'closed'],
    jsonError: false,
    build: (token) => http(pickOne(['FOO', 'GE T', 'P\u0000ST']), '/v1/heartbeat', bearer(token)),
  },
  {
    name: 'broken JSON',
    allowed: [400],
    jsonError: true,
    build: (token) =>
      http(
        'POST',
        '/v1/heartbeat',
        { ...bearer(token), ...json },
        pickOne([
          '{"state": "active"',
          '{"state": active}',
          "{'state': 'active'}",
          '\u0000\u0001',
          '[',
          'null,',
        ]),
      ),
  },
  {
    name: 'JSON of the wrong shape',
    allowed: [400],
    jsonError: true,
    build: (token) =>
      http(
        'POST',
        '/v1/heartbeat',
        { ...bearer(token), ...json },
        pickOne([
          '{"state": "awake"}',
          '{"state": 1}',
          '{"state": ["active"]}',
          '[{"state": "active"}]',
          '"active"',
          '{"state": "active", "params": "x"}',
          '{"params": {}}',
        ]),
      ),
  },
  {
    name: 'deeply nested JSON',
    allowed: [400, 413],
    jsonError: true,
    build: (token) => {
      const depth = 5000 + Math.floor(Math.random() * 20_000);
      return http(
        'POST',
        '/v1/heartbeat',
        { ...bearer(token), ...json },
        `${'['.repeat(depth)}${']'.repeat(depth)}`,
      );
    },
  },
  {
    name: 'params over 4 KB',
    allowed: [400, 413],
    jsonError: true,
    build: (token) =>
      http(
        'POST',
        '/v1/heartbeat',
        { ...bearer(token), ...json },
        JSON.stringify({
          state: 'active',
          params: { blob: 'p'.repeat(4200 + Math.floor(Math.random() * 8000)) },
        }),
      ),
  },
  {
    name: 'body over 64 KB',
    allowed: [413],
    jsonError: true,
    build: (token) =>
      http(
        'POST',
        '/v1/heartbeat',
        { ...bearer(token), ...json },
        JSON.stringify({ state: 'active', padding: 'b'.repeat(70_000) }),
      ),
  },
  {
    name: 'not JSON',
    allowed: [415],
    jsonError: true,
    build: (token) =>
      http(
        'POST',
        '/v1/heartbeat',
        {
          ...bearer(token),
          'content-type': pickOne(['text/plain', 'application/x-www-form-urlencoded', 'image/png']),
        },
        'state=active',
      ),
  },
  {
    name: 'huge header',
    allowed: [431, 'closed'],
    jsonError: false,
    build: (token) =>
      http(
        'POST',
        '/v1/heartbeat',
        { ...bearer(token), ...json, 'x-padding': 'h'.repeat(20_000 + Math.floor(Math.random() * 80_000)) },
        '{"state":"active"}',
      ),
  },
  {
    name: 'bad token',
    allowed: [401],
    jsonError: true,
    build: () =>
      http(
        'POST',
        '/v1/heartbeat',
        {
          authorization: pickOne([
            `Bearer vgl_${randomBytes(32).toString('base64url')}`,
            `Bearer ${randomBytes(16).toString('hex')}`,
            'Bearer ',
            'Bearer vgl_',
            `Basic ${Buffer.from('a:b').toString('base64')}`,
            `Bearer ${'x'.repeat(3000)}`,
          ]),
          ...json,
        },
        '{"state":"active"}',
      ),
  },
  {
    name: 'bad token (authorize, read)',
    allowed: [401],
    jsonError: true,
    build: () =>
      http('GET', pickOne(['/v1/authorize', '/v1/session']), {
        authorization: `Bearer vgl_${randomBytes(32).toString('base64url')}`,
        cookie: `vigil=${randomBytes(8).toString('hex')}`,
      }),
  },
  {
    name: 'wrong API key',
    allowed: [401],
    jsonError: true,
    build: (token) => {
      const authorization = pickOne([`Bearer ${API_KEY}x`, `Bearer ${token}`, 'Bearer', API_KEY]);
      return Math.random() < 0.5
        ? http('POST', '/v1/sessions', { authorization, ...json }, '{"subject":"noise"}')
        : http('DELETE', `/v1/subjects/${pickOne(['noise', 'user-1'])}/sessions`, { authorization });
    },
  },
  {
    name: 'bad creation',
    allowed: [400, 413],
    jsonError: true,
    build: () =>
      http(
        'POST',
        '/v1/sessions',
        { ...bearer(API_KEY), ...json },
        pickOne([
          JSON.stringify({ subject: 'n'.repeat(300) }),
          JSON.stringify({ subject: '' }),
          JSON.stringify({}),
          JSON.stringify({ subject: 'noise', attributes: [] }),
          JSON.stringify({ subject: 'noise', attributes: { a: 'x'.repeat(5000) } }),
          JSON.stringify({ subject: 'noise', policy: 'nope' }),
          JSON.stringify({ subject: 42 }),
        ]),
      ),
  },
  {
    name: 'a token where an id belongs',
    allowed: [404],
    jsonError: true,
    build: (token) =>
      http(pickOne(['GET', 'DELETE']), `/v1/sessions/${encodeURIComponent(token)}`, bearer(API_KEY)),
  },
  {
    name: 'odd paths and methods',
    allowed: [400, 404, 405],
    jsonError: true,
    build: (token) =>
      http(
        pickOne(['PATCH', 'PUT', 'GET']),
        pickOne([
          '/v1/heartbeat',
          '/v1/../../etc/passwd',
          '/v1/%00',
          '/v1/sessions/%zz',
          `/v1/${'a'.repeat(5000)}`,
        ]),
        bearer(token),
      ),
  },
];

/** Sends one raw request and reads until the server closes (every request says `connection: close`). */
function exchange(url: URL, bytes: Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const split = text.indexOf('\r\n\r\n');
      resolve({
        status: status === undefined ? 'closed' : Number(status),
        headers: split === -1 ? text : text.slice(0, split),
        body: split === -1 ? '' : text.slice(split + 4),
      });
    };
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', done);
    socket.on('connect', () => {
      // The server may answer (431, 413) and close before reading everything: EPIPE is fine.
      socket.write(bytes, () => socket.end());
    });
  });
}

/** Problems with one answer, given its kind. */
function check(kind: NoiseKind, answer: RawAnswer): string | null {
  if (!kind.allowed.includes(answer.status)) {
    return `${kind.name}: ${answer.status} ${answer.body.slice(0, 160)}`;
  }
  if (answer.status === 'closed' || !kind.jsonError) return null;
  if (/\n\s+at |"stack"/.test(answer.body)) return `${kind.name}: a stack trace in the answer`;
  const body = /content-length: \d+/i.test(answer.headers) ? answer.body : '';
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.error?.code !== 'string' || typeof parsed.error.message !== 'string') {
      return `${kind.name}: ${answer.status} without the error shape: ${body.slice(0, 160)}`;
    }
  } catch {
    return `${kind.name}: ${answer.status} not JSON: ${answer.headers.slice(0, 200)}`;
  }
  return null;
}

/** Holds `count` connections with a request that never finishes its headers, until `stop`. */
function stallConnections(url: URL, count: number): { stop: () => void } {
  const sockets = Array.from({ length: count }, () => {
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => {});
    socket.on('connect', () => socket.write('POST /v1/heartbeat HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: '));
    return socket;
  });
  return {
    stop: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

export async function sendNoise(options: NoiseOptions): Promise<NoiseReport> {
  const url = new URL(options.url);
  const report: NoiseReport = { sent: 0, byKind: {}, problems: [] };
  const stalled = stallConnections(url, options.stalled);
  let next = 0;
  try {
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < options.count) {
          next++;
          const tokens = options.tokens();
          const token = tokens.length === 0 ? `vgl_${'A'.repeat(43)}` : pickOne(tokens);
          const kind = pickOne(NOISE_KINDS);
          const answer = await exchange(url, kind.build(token));
          report.sent++;
          const seen = report.byKind[kind.name] ?? {};
          report.byKind[kind.name] = seen;
          seen[answer.status] = (seen[answer.status] ?? 0) + 1;
          const problem = check(kind, answer);
          if (problem !== null) report.problems.push(problem);
          // Spread over the run rather than all at once: the good users' load is the point.
          if (next % 50 === 0) await sleep(5);
        }
      }),
    );
  } finally {
    stalled.stop();
  }
  return report;
}
