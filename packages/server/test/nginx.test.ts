import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryStore, resolveConfig, systemClock } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/index.js';
import { API_KEY, faultyStore } from './helpers.js';

/**
 * A real nginx, configured by `examples/proxies/nginx.conf` (only its addresses and file paths
 * rewritten), in front of a small Node app, asking a real Vigil (`buildApp` + `listen`) about every
 * request. Timeouts are real: the policy's idle timeout is 2 s.
 */

const NGINX = '/usr/sbin/nginx';
const EXAMPLE = new URL('../../../examples/proxies/nginx.conf', import.meta.url);
const IDLE_MS = 2000;

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The example with its addresses and paths pointed into the test's own directory and ports. */
function render(conf: string, dir: string, ports: { nginx: number; vigil: number; app: number }): string {
  let out = conf;
  const replace = (from: string, to: string) => {
    assert.ok(out.includes(from), `examples/proxies/nginx.conf no longer contains "${from}"`);
    out = out.replace(from, to);
  };
  replace('listen 8000;', `listen 127.0.0.1:${ports.nginx};`);
  replace('server 127.0.0.1:8080;', `server 127.0.0.1:${ports.vigil};`);
  replace('server 127.0.0.1:3000;', `server 127.0.0.1:${ports.app};`);
  replace('error_log /var/log/nginx/error.log warn;', `error_log ${dir}/error.log info;`);
  replace(
    'access_log /var/log/nginx/access.log;',
    [
      `access_log ${dir}/access.log;`,
      `client_body_temp_path ${dir}/client_body;`,
      `proxy_temp_path ${dir}/proxy;`,
      `fastcgi_temp_path ${dir}/fastcgi;`,
      `uwsgi_temp_path ${dir}/uwsgi;`,
      `scgi_temp_path ${dir}/scgi;`,
    ].join('\n  '),
  );
  return out;
}

interface Seen {
  path: string;
  subject: string | undefined;
  session: string | undefined;
  expiresInMs: string | undefined;
}

/** A redirect's target path (nginx writes absolute redirects). */
function locationOf(response: Response): string {
  const url = new URL(String(response.headers.get('location')), 'http://x');
  return url.pathname + url.search;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('nginx auth_request in front of an app (examples/proxies/nginx.conf)', () => {
  let dir: string;
  let nginx: ChildProcess;
  let nginxExit: Promise<number | null>;
  let appServer: Server;
  let vigil: FastifyInstance;
  let store: ReturnType<typeof faultyStore>;
  let base: string;
  let vigilBase: string;
  const appSaw: Seen[] = [];

  before(async () => {
    assert.ok(
      existsSync(NGINX),
      `${NGINX} is required for this test (CI installs it: .ci/run); install nginx or nginx-light`,
    );
    dir = await mkdtemp(join(tmpdir(), 'vigil-nginx-'));
    await chmod(dir, 0o755); // nginx workers drop to an unprivileged user when started as root

    appServer = createServer((request, response) => {
      const path = request.url ?? '/';
      if (path.startsWith('/login')) {
        response.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Sign in</h1>');
        return;
      }
      const seen: Seen = {
        path,
        subject: request.headers['x-vigil-subject'] as string | undefined,
        session: request.headers['x-vigil-session'] as string | undefined,
        expiresInMs: request.headers['x-vigil-expires-in-ms'] as string | undefined,
      };
      appSaw.push(seen);
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(seen));
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));

    store = faultyStore(new MemoryStore());
    vigil = await buildApp({
      apiKey: API_KEY,
      store,
      clock: systemClock,
      sweeper: { intervalMs: 100 },
      config: resolveConfig({
        policies: { default: { idleTimeout: `${IDLE_MS}ms`, absoluteTimeout: '1h' } },
        passivePaths: ['/api/poll', '/api/notifications/*'],
        cookie: { enabled: true, secure: false },
        storeTimeout: '300ms',
      }),
    });
    vigilBase = await vigil.listen({ host: '127.0.0.1', port: 0 });

    const ports = {
      nginx: await freePort(),
      vigil: Number(new URL(vigilBase).port),
      app: (appServer.address() as AddressInfo).port,
    };
    const conf = join(dir, 'nginx.conf');
    await writeFile(conf, render(await readFile(EXAMPLE, 'utf8'), dir, ports));
    const args = ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf];
    const check = spawnSync(NGINX, [...args, '-t'], { encoding: 'utf8' });
    assert.equal(check.status, 0, `nginx -t refused the example:\n${check.stderr}`);
    nginx = spawn(NGINX, [...args, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`], { stdio: 'inherit' });
    nginxExit = new Promise((resolve) => nginx.on('exit', resolve));
    base = `http://127.0.0.1:${ports.nginx}`;
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await fetch(`${base}/login`);
        break;
      } catch {
        if (nginx.exitCode !== null || Date.now() > deadline) {
          const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
          assert.fail(`nginx did not start:\n${log}`);
        }
        await sleep(50);
      }
    }
  });

  after(async () => {
    if (nginx?.pid !== undefined && nginx.exitCode === null) {
      process.kill(nginx.pid, 'SIGTERM');
      await nginxExit;
    }
    await vigil?.close();
    await new Promise((resolve) => appServer?.close(resolve));
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function newSession(subject = 'alice'): Promise<{ token: string; id: string }> {
    const response = await fetch(`${vigilBase}/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject }),
    });
    assert.equal(response.status, 201);
    const { token, session } = await response.json();
    return { token, id: session.id };
  }

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { headers, redirect: 'manual' });

  test('requests pass while the session lives; the app sees the subject (and cannot be lied to)', async () => {
    const { token, id } = await newSession('alice@example.com');
    const started = Date.now();
    // Active requests 600 ms apart for 3.6 s: well past the 2 s idle timeout, alive throughout.
    for (let i = 0; i < 7; i++) {
      const response = await get(`/orders?page=${i}`, {
        authorization: `Bearer ${token}`,
        'x-vigil-subject': 'mallory', // a client's own header is replaced, never passed on
      });
      assert.equal(response.status, 200, `request ${i}`);
      const seen = (await response.json()) as Seen;
      assert.equal(seen.subject, 'alice@example.com');
      assert.equal(seen.session, id);
      assert.ok(Number(seen.expiresInMs) > 0 && Number(seen.expiresInMs) <= IDLE_MS);
      await sleep(600);
    }
    assert.ok(Date.now() - started > IDLE_MS + 1000);
  });

  test('the session cookie works through nginx too, and a subject that is not ASCII reaches the app encoded', async () => {
    const { token } = await newSession('Zoë');
    const response = await get('/profile', { cookie: `vigil=${token}` });
    assert.equal(response.status, 200);
    const seen = (await response.json()) as Seen;
    assert.equal(decodeURIComponent(String(seen.subject)), 'Zoë');
  });

  test('refused after the idle timeout: browsers go to the login page with the reason, API calls get 401 JSON', async () => {
    const { token } = await newSession();
    assert.equal((await get('/', { authorization: `Bearer ${token}` })).status, 200);
    await sleep(IDLE_MS + 300);
    const page = await get('/dashboard', { authorization: `Bearer ${token}`, accept: 'text/html' });
    assert.equal(page.status, 302);
    assert.equal(locationOf(page), '/login?reason=idle_timeout');
    const api = await get('/api/orders', { authorization: `Bearer ${token}`, accept: 'application/json' });
    assert.equal(api.status, 401);
    assert.deepEqual(await api.json(), {
      error: { code: 'session_ended', message: 'The session has ended.', reason: 'idle_timeout' },
    });
    const anonymous = await get('/dashboard', { accept: 'text/html' });
    assert.equal(anonymous.status, 302);
    assert.equal(locationOf(anonymous), '/login?reason=unauthenticated');
    assert.equal((await get('/login')).status, 200, 'the login page itself needs no session');
  });

  test('passive polling does not keep the session alive', async () => {
    const { token } = await newSession();
    assert.equal((await get('/inbox', { authorization: `Bearer ${token}` })).status, 200);
    const lastActive = Date.now();
    let refusedAt = 0;
    let polls = 0;
    while (Date.now() - lastActive < IDLE_MS + 1500) {
      // Alternate the two kinds of passive request: a passive path, and the header on any path.
      const response =
        polls % 2 === 0
          ? await get(`/api/poll?since=${polls}`, { authorization: `Bearer ${token}` })
          : await get('/inbox', { authorization: `Bearer ${token}`, 'x-vigil-activity': 'passive' });
      polls++;
      if (response.status === 401) {
        refusedAt = Date.now();
        assert.equal(((await response.json()) as { error: { reason: string } }).error.reason, 'idle_timeout');
        break;
      }
      assert.equal(response.status, 200);
      await sleep(300);
    }
    assert.ok(refusedAt > 0, `${polls} passive polls kept the session alive past its idle timeout`);
    const after = refusedAt - lastActive;
    assert.ok(
      after >= IDLE_MS - 100 && after <= IDLE_MS + 700,
      `refused ${after} ms after the last activity`,
    );
    assert.ok(polls >= 4);
  });

  test('the browser API is reachable through nginx on the same origin (cookie heartbeat passes the CSRF check)', async () => {
    const { token } = await newSession();
    const response = await fetch(`${base}/v1/heartbeat`, {
      method: 'POST',
      headers: { cookie: `vigil=${token}`, origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ state: 'active' }),
    });
    assert.equal(response.status, 200);
    const forged = await fetch(`${base}/v1/heartbeat`, {
      method: 'POST',
      headers: {
        cookie: `vigil=${token}`,
        origin: 'http://evil.example',
        'content-type': 'application/json',
      },
      body: JSON.stringify({ state: 'active' }),
    });
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'csrf_rejected');
  });

  test('503 with Retry-After when Vigil cannot answer: never through, never a logout', async () => {
    const { token } = await newSession();
    const before = appSaw.length;
    store.mode = 'throw';
    try {
      const response = await get('/orders', { authorization: `Bearer ${token}` });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '1');
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'store_unavailable');
    } finally {
      store.mode = 'ok';
    }
    assert.equal(appSaw.length, before, 'the app saw nothing');
    assert.equal(
      (await get('/orders', { authorization: `Bearer ${token}` })).status,
      200,
      'alive after the outage',
    );
  });

  // Last: it stops Vigil.
  test('503 too when Vigil cannot be reached at all', async () => {
    const { token } = await newSession();
    await vigil.close();
    const response = await get('/orders', { authorization: `Bearer ${token}` });
    assert.equal(response.status, 503);
    assert.equal(response.headers.get('retry-after'), '1');
  });
});
