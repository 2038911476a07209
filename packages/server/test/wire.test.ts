import assert from 'node:assert/strict';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ConnectionError, FastifyInstance } from 'fastify';
import { clientErrorHandler } from '../src/client-errors.js';
import { API_KEY, backend, errorCode, logCapture, makeApp, type TestApp } from './helpers.js';

/**
 * What reaches the server below the routes — requests Node's parser refuses, `CONNECT`, `Expect`,
 * broken WebSocket handshakes, encoded bodies, clients that leave mid-request — sent as raw bytes
 * over a real socket (fetch cannot send most of them), and answered in the one error shape.
 */

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The server closed the connection within the wait. */
  closed: boolean;
}

/**
 * Writes `data` as is and reads the answer. Resolves when the server closes the connection, or
 * `waitMs` after the first answer is complete when it keeps the connection open.
 */
function exchange(port: number, data: string | Buffer, waitMs = 300): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        reject(new Error(`no answer (closed: ${closed}): ${JSON.stringify(text)}`));
        return;
      }
      const [statusLine = '', ...fields] = text.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(':');
        headers[field.slice(0, colon).toLowerCase()] = field.slice(colon + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers,
        body: received.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1')).toString('utf8'),
        closed,
      });
    };
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), waitMs);
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.write(data);
    timer = setTimeout(() => finish(false), 5000);
  });
}

/** The answer is an error in the contract's shape, with the given status and code. */
function assertError(answer: RawAnswer, status: number, code: string, what: string): void {
  assert.equal(answer.status, status, `${what}: ${answer.body}`);
  assert.match(answer.headers['content-type'] ?? '', /^application\/json/, what);
  const body = JSON.parse(answer.body);
  assert.deepEqual(Object.keys(body), ['error'], what);
  assert.equal(body.error.code, code, what);
  assert.equal(typeof body.error.message, 'string', what);
  assert.equal(answer.headers['cache-control'], 'no-store', what);
}

/** No line at `warn` or above, and no stack anywhere: a client's doing is not the server's error. */
function assertQuietLogs(lines: string[]): void {
  for (const line of lines) {
    const entry = JSON.parse(line) as { level: number; msg?: string };
    assert.ok(entry.level < 40, `logged at ${entry.level}: ${line}`);
    assert.ok(!line.includes('"stack"'), `a stack in: ${line}`);
    assert.ok(!line.includes('rawPacket'), `request bytes in: ${line}`);
  }
}

const json = 'application/json';
const post = (headers: string, body: string) =>
  `POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${API_KEY}\r\n${headers}\r\n${body}`;

describe('below the routes: every answer is an error in the contract shape', () => {
  let t: TestApp;
  let port: number;
  const logs = logCapture();
  before(async () => {
    t = await makeApp({ logger: { stream: logs.stream, level: 'trace' } });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(() => t.app.close());

  test("requests Node's parser refuses: 431 or 400 bad_request, the connection closed, nothing logged as an error", async () => {
    const cases = [
      ['a 20 KB header', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['a 30 KB query string', `GET /healthz?q=${'a'.repeat(30_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
      ['garbage', 'HELLO WORLD\r\n\r\n', 400],
      ['a space in the URL', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      [
        'a control character in a header value',
        'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n',
        400,
      ],
      ['Content-Length: abc', post(`Content-Type: ${json}\r\nContent-Length: abc\r\n`, '{}'), 400],
      [
        'Content-Length with Transfer-Encoding',
        post(`Content-Type: ${json}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n`, '0\r\n\r\n'),
        400,
      ],
      ['an HTTP/2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400],
    ] as const;
    logs.lines.length = 0;
    for (const [what, data, status] of cases) {
      const answer = await exchange(port, data);
      assertError(answer, status, 'bad_request', what);
      assert.equal(answer.closed, true, `${what}: the connection is closed`);
    }
    assertQuietLogs(logs.lines);
    assert.ok(
      logs.lines.some((line) => line.includes('"msg":"client error"')),
      'refusals are logged (at info)',
    );
    assert.equal((await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')).status, 200);
    assert.equal(t.seen.length, 0, 'nothing was created');
  });

  test('CONNECT → 404 not_found, as every method no route serves, and the connection is closed', async () => {
    const answer = await exchange(
      port,
      `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
    );
    assertError(answer, 404, 'not_found', 'CONNECT');
    assert.equal(answer.closed, true);
    const patch = await exchange(port, 'PATCH /v1/session HTTP/1.1\r\nHost: x\r\n\r\n');
    assertError(patch, 404, 'not_found', 'PATCH, for comparison');
  });

  test('an Expect other than 100-continue → 417 bad_request', async () => {
    const answer = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n\r\n');
    assertError(answer, 417, 'bad_request', 'Expect');
  });

  test('a bad WebSocket handshake → 400 bad_request (and the versions spoken), the connection closed', async () => {
    const upgrade = 'GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n';
    const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const version7 = await exchange(port, `${upgrade}${key}Sec-WebSocket-Version: 7\r\n\r\n`);
    assertError(version7, 400, 'bad_request', 'version 7');
    assert.equal(version7.headers['sec-websocket-version'], '13, 8');
    assert.equal(version7.closed, true);
    const noKey = await exchange(port, `${upgrade}Sec-WebSocket-Version: 13\r\n\r\n`);
    assertError(noKey, 400, 'bad_request', 'no key');
    assert.equal(noKey.closed, true);
    const notWebSocket = await exchange(
      port,
      'GET /v1/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n',
    );
    assertError(notWebSocket, 400, 'bad_request', 'Upgrade: h2c');
  });

  test('an upgrade to a path that serves no WebSocket is answered, then its connection closed', async () => {
    const upgrade =
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const health = await exchange(port, `GET /healthz HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 1000);
    assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: 'ok' }]);
    assert.equal(health.closed, true, 'Node gave the socket away: nothing else would ever close it');
    const missing = await exchange(port, `GET /nope HTTP/1.1\r\nHost: x\r\n${upgrade}\r\n`, 1000);
    assertError(missing, 404, 'not_found', 'an unknown path');
    assert.equal(missing.closed, true);
  });

  test('a client that leaves in the middle of its body is logged at debug, without a stack', async () => {
    for (const leave of ['end', 'reset'] as const) {
      logs.lines.length = 0;
      const socket: Socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(post(`Content-Type: ${json}\r\nContent-Length: 100\r\n`, '{"subj'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (leave === 'end') socket.destroy();
      else socket.resetAndDestroy();
      const deadline = Date.now() + 2000;
      while (!logs.lines.some((line) => line.includes('"msg":"client went away"')) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await new Promise((resolve) => setTimeout(resolve, 100)); // for any line after it
      assertQuietLogs(logs.lines);
      assert.ok(
        logs.lines.some((line) => line.includes('"msg":"client went away"') && line.includes('"level":20')),
        `${leave}: logged at debug: ${logs.lines.join('\n')}`,
      );
    }
  });
});

describe('Content-Encoding', () => {
  test('a body with any coding but identity → 415 bad_request before it is read, and nothing changes', async () => {
    const t = await makeApp();
    const body = JSON.stringify({ subject: 'alice' });
    for (const [encoding, payload] of [
      ['br', body],
      ['gzip', gzipSync(body)],
      ['GZIP', gzipSync(body)],
      ['identity, gzip', gzipSync(body)],
      ['deflate', body],
    ] as const) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: { ...backend, 'content-type': json, 'content-encoding': encoding },
        payload,
      });
      assert.equal(response.statusCode, 415, encoding);
      assert.equal(errorCode(response), 'bad_request');
    }
    assert.equal(t.seen.length, 0, 'no session was created');
    for (const encoding of ['identity', 'Identity', '']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: { ...backend, 'content-type': json, 'content-encoding': encoding },
        payload: body,
      });
      assert.equal(response.statusCode, 201, `"${encoding}"`);
    }
    // No body, nothing to decode: a GET (or an empty POST) is not refused for the header.
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/sessions?subject=alice',
      headers: { ...backend, 'content-encoding': 'gzip' },
    });
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().sessions.length, 3);
    await t.app.close();
  });
});

describe('clientErrorHandler', () => {
  const log = { debug() {}, info() {} };
  const app = { log } as unknown as FastifyInstance;
  const parserError = (code: string) => Object.assign(new Error('parse'), { code }) as ConnectionError;

  /** A socket that records what is done to it. */
  function fakeSocket(state: { writable: boolean; headersSent?: boolean }): {
    socket: Socket;
    calls: string[];
  } {
    const calls: string[] = [];
    const socket = {
      writable: state.writable,
      _httpMessage: state.headersSent === undefined ? null : { headersSent: state.headersSent },
      destroy: () => calls.push('destroy'),
      write: () => calls.push('write'),
      end: () => calls.push('end'),
      once: () => socket,
    };
    return { socket: socket as unknown as Socket, calls };
  }

  test('a socket that cannot be written, a reset or a response under way: destroyed, nothing written', () => {
    for (const [state, code] of [
      [{ writable: false }, 'HPE_INVALID_METHOD'],
      [{ writable: true }, 'ECONNRESET'],
      [{ writable: true, headersSent: true }, 'HPE_INVALID_CONSTANT'],
    ] as const) {
      const { socket, calls } = fakeSocket(state);
      clientErrorHandler.call(app, parserError(code), socket);
      assert.deepEqual(calls, ['destroy'], `${JSON.stringify(state)} ${code}`);
    }
    const { socket, calls } = fakeSocket({ writable: true, headersSent: false });
    clientErrorHandler.call(app, parserError('HPE_INVALID_METHOD'), socket);
    assert.deepEqual(calls, ['end'], 'a writable socket gets the answer, then is closed');
  });
});
