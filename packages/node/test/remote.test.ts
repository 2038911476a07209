import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { remoteChecker } from '../src/index.js';
import { describeEnforcement } from './behaviours.js';
import { bearer, errorOf, expressFramework, fastifyFramework, get, makeBackend, portOf } from './helpers.js';

describeEnforcement(expressFramework, 'remote');
describeEnforcement(fastifyFramework, 'remote');

/** A port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('remote checker: the Vigil server unreachable or odd', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  after(async () => {
    for (const resource of open.reverse()) await resource.close();
  });
  const token = `vgl_${'B'.repeat(43)}`;

  test('Vigil down (connection refused) → 503 store_unavailable with Retry-After, never 401', async () => {
    const checker = remoteChecker({ url: `http://127.0.0.1:${await closedPort()}` });
    for (const framework of [expressFramework, fastifyFramework]) {
      const app = await framework.start(checker);
      open.push(app);
      const answer = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(answer.status, 503, framework.name);
      assert.equal(errorOf(answer).code, 'store_unavailable');
      assert.equal(answer.headers.get('retry-after'), '1');
      assert.doesNotMatch(JSON.stringify(answer.body), /vgl_/);
    }
  });

  test('Vigil silent (accepts, never answers) → 503 once timeoutMs has passed', async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket));
    const port = await listen(silent);
    open.push({
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          silent.close(() => resolve());
        }),
    });
    const app = await expressFramework.start(
      remoteChecker({ url: `http://127.0.0.1:${port}`, timeoutMs: 200 }),
    );
    open.push(app);
    const started = performance.now();
    const answer = await get(`${app.url}/api/data`, bearer(token));
    const elapsed = performance.now() - started;
    assert.equal(answer.status, 503);
    assert.equal(errorOf(answer).code, 'store_unavailable');
    assert.ok(elapsed >= 190 && elapsed < 1500, `answered after ${elapsed} ms`);
  });

  test('an answer other than 200/401 (404: no /v1/authorize; 500; a 200 without a status) → 503, Retry-After passed on', async () => {
    const answers: Record<string, { status: number; headers?: Record<string, string>; body: string }> = {
      '/a/v1/authorize': { status: 404, body: '{"error":{"code":"not_found","message":"Not found."}}' },
      '/b/v1/authorize': { status: 500, body: 'oops' },
      '/c/v1/authorize': { status: 200, body: '<html>login</html>' },
      '/d/v1/authorize': { status: 503, headers: { 'retry-after': '7' }, body: '{}' },
      '/e/v1/authorize': { status: 302, headers: { location: 'http://127.0.0.1:9/' }, body: '' },
    };
    const seen: Array<string | undefined> = [];
    const forwarded: Array<string | undefined> = [];
    const odd = createHttpServer((request, response) => {
      seen.push(request.headers.authorization);
      forwarded.push(request.headers['x-forwarded-uri'] as string | undefined);
      const answer = answers[request.url ?? ''] ?? { status: 418, body: '' };
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(answer.body);
    });
    const port = await listen(odd);
    open.push({ close: () => new Promise<void>((resolve) => odd.close(() => resolve())) });
    for (const [prefix, retryAfter] of [
      ['a', '1'],
      ['b', '1'],
      ['c', '1'],
      ['d', '7'],
      ['e', '1'],
    ] as const) {
      const app = await fastifyFramework.start(remoteChecker({ url: `http://127.0.0.1:${port}/${prefix}` }));
      open.push(app);
      const answer = await get(`${app.url}/api/data?secret=1`, bearer(token));
      assert.equal(answer.status, 503, prefix);
      assert.equal(errorOf(answer).code, 'store_unavailable', prefix);
      assert.equal(answer.headers.get('retry-after'), retryAfter, prefix);
    }
    // The token went only as a bearer credential to the configured server, never elsewhere.
    assert.ok(seen.every((authorization) => authorization === `Bearer ${token}`));
    // The path goes along (for the server's passivePaths), the query string never does.
    assert.ok(forwarded.every((uri) => uri === '/api/data'));
  });
});

describe('remote checker against the real server', () => {
  test("a 401 is the server's own /v1/authorize answer, field for field", async () => {
    const backend = await makeBackend('remote');
    const app = await expressFramework.start(backend.checker);
    try {
      const { token } = await backend.createSession();
      backend.clock.advance(10_000);
      const direct = await get(`http://127.0.0.1:${portOf(backend.server)}/v1/authorize`, bearer(token));
      const viaApp = await get(`${app.url}/api/data`, bearer(token));
      assert.equal(direct.status, 401);
      assert.equal(viaApp.status, 401);
      assert.deepEqual(viaApp.body, direct.body);
    } finally {
      await app.close();
      await backend.close();
    }
  });

  test('many sequential requests reuse a few keep-alive connections to Vigil', async (t) => {
    const backend = await makeBackend('remote');
    const app = await fastifyFramework.start(backend.checker);
    try {
      let connections = 0;
      backend.server.server.on('connection', () => connections++);
      const { token } = await backend.createSession();
      const requests = 60;
      for (let i = 0; i < requests; i++) {
        const answer = await get(`${app.url}/api/data`, bearer(token));
        assert.equal(answer.status, 200);
      }
      t.diagnostic(`${connections} TCP connection(s) to Vigil for ${requests} requests`);
      assert.ok(connections >= 1 && connections <= 3, `${connections} connections for ${requests} requests`);
      // Refusals and outages leave the connection reusable too (their bodies are read).
      const before = connections;
      backend.store.mode = 'throw';
      for (let i = 0; i < 10; i++)
        assert.equal((await get(`${app.url}/api/data`, bearer(token))).status, 503);
      backend.store.mode = 'ok';
      for (let i = 0; i < 10; i++) {
        assert.equal((await get(`${app.url}/api/data`, bearer(`vgl_${'C'.repeat(43)}`))).status, 401);
      }
      assert.ok(connections - before <= 1, `${connections - before} new connections for 20 refusals`);
    } finally {
      await app.close();
      await backend.close();
    }
  });

  test('a URL object with a trailing slash works; a non-ASCII subject comes through exactly', async () => {
    const backend = await makeBackend('remote');
    const checker = remoteChecker({ url: new URL(`http://127.0.0.1:${portOf(backend.server)}/`) });
    try {
      const { token } = await backend.createSession({ subject: 'zoë' });
      const session = await checker.check({ token, passive: false });
      assert.equal(session.subject, 'zoë');
      assert.equal(session.policy, 'default');
    } finally {
      await backend.close();
    }
  });
});
