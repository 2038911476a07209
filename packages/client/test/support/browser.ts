import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { MemoryStore, type PolicyInput, resolveConfig, type Store } from '@vigil/core';
import { buildApp } from '@vigil/server';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { logSocketHeartbeats } from './socket-log.js';

const API_KEY = 'browser-test-api-key';

/** Debian's Chromium, headless; never a downloaded browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const bundles = new Map<string, Promise<string>>();

/**
 * A page script, bundled with the SDK's sources as the browser will load it: a name in the client's
 * `test/pages/`, or a file URL.
 */
export function bundle(name: string | URL): Promise<string> {
  const entry = fileURLToPath(typeof name === 'string' ? new URL(`../pages/${name}`, import.meta.url) : name);
  let pending = bundles.get(entry);
  if (!pending) {
    pending = build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      write: false,
      target: 'chrome120',
      conditions: ['vigil-source'],
      jsx: 'automatic',
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    }).then((result) => result.outputFiles[0]?.text ?? '');
    bundles.set(entry, pending);
  }
  return pending;
}

export function html(body: string, script: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil test page</title></head>
<body>${body}<script type="module" src="${script}"></script></body></html>`;
}

export interface SeenRequest {
  /** `WS` for a heartbeat that came over a `/v1/ws` socket (see socket-log.ts). */
  method: string;
  path: string;
  state: string | null;
  warning: string | null;
  /** Which page sent it (the test pages carry `?tab=…` in their URL). */
  tab: string | null;
  statusCode: number | null;
  /** When the request arrived. */
  at: number;
}

export interface TestVigil {
  app: FastifyInstance;
  origin: string;
  requests: SeenRequest[];
  /** Heartbeats the server accepted, over HTTP or a socket. */
  heartbeats(state?: 'active' | 'sleeping'): SeenRequest[];
  createSession(subject?: string): Promise<string>;
  /** `GET /v1/session` as the browser would: the server's current answer for this token. */
  read(token: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** `DELETE /v1/sessions/:id` with the API key, as an admin revoking a session; the status code. */
  revoke(sessionId: string): Promise<number>;
  /** While set, a WebSocket upgrade on `/v1/ws` is refused (`403`), as by a proxy that forbids them. */
  refuseUpgrades: boolean;
  close(): Promise<void>;
}

/**
 * The real Vigil server (`buildApp` from `@vigil/server`, memory store) on a free port, serving the
 * test pages on the same origin, and noting every request it receives.
 */
export async function startVigil(options: {
  policy?: PolicyInput;
  store?: Store;
  pages: Record<string, { type: string; body: string | (() => Promise<string>) }>;
}): Promise<TestVigil> {
  const policy = options.policy ?? { idleTimeout: '3s', absoluteTimeout: '1h', warnBefore: '2s' };
  const app = await buildApp({
    config: resolveConfig({ policies: { default: policy } }),
    store: options.store ?? new MemoryStore(),
    apiKey: API_KEY,
    logger: false,
    sweeper: { intervalMs: 200 },
  });
  const requests: SeenRequest[] = [];
  // Arrival times: a response may be slow under load, an arrival is when the client sent it.
  const arrivals = new WeakMap<object, number>();
  const control = { refuseUpgrades: false };
  app.addHook('onRequest', async (request, reply) => {
    arrivals.set(request.raw, Date.now());
    if (request.headers.upgrade === undefined) return;
    if (control.refuseUpgrades) {
      return reply.code(403).send({ error: { code: 'forbidden', message: 'no WebSockets here' } });
    }
    logSocketHeartbeats(request.server, requests);
  });
  app.addHook('onResponse', async (request, reply) => {
    if (!request.url.startsWith('/v1/')) return;
    const body = (request.body ?? {}) as { state?: string; warning?: string };
    const referer = request.headers.referer;
    requests.push({
      method: request.method,
      path: request.url.split('?')[0] ?? request.url,
      state: body.state ?? null,
      warning: body.warning ?? null,
      tab: referer ? new URL(referer).searchParams.get('tab') : null,
      statusCode: reply.statusCode,
      at: arrivals.get(request.raw) ?? Date.now(),
    });
  });
  for (const [path, page] of Object.entries(options.pages)) {
    app.get(path, async (_request, reply) => {
      const body = typeof page.body === 'function' ? await page.body() : page.body;
      return reply.type(page.type).send(body);
    });
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const vigil: TestVigil = {
    get refuseUpgrades() {
      return control.refuseUpgrades;
    },
    set refuseUpgrades(value) {
      control.refuseUpgrades = value;
    },
    app,
    origin,
    requests,
    heartbeats: (state) =>
      requests.filter(
        (r) => r.path === '/v1/heartbeat' && r.statusCode === 200 && (!state || r.state === state),
      ),
    async createSession(subject = 'ada') {
      const response = await fetch(`${origin}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ subject }),
      });
      if (response.status !== 201) throw new Error(`POST /v1/sessions answered ${response.status}`);
      return ((await response.json()) as { token: string }).token;
    },
    async read(token) {
      const response = await fetch(`${origin}/v1/session`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async revoke(sessionId) {
      const response = await fetch(`${origin}/v1/sessions/${sessionId}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      return response.status;
    },
    close: () => app.close(),
  };
  return vigil;
}

/** A plain static server: another origin for embedded frames. */
export async function startStatic(
  files: Record<string, { type: string; body: () => Promise<string> }>,
  host = '127.0.0.1',
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const file = files[(request.url ?? '/').split(/[?#]/)[0] ?? '/'];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    void file.body().then((body) => response.writeHead(200, { 'content-type': file.type }).end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What the host test page logged (`window.vigilTest.log`). */
export async function eventsOf(page: Page): Promise<Array<{ type: string; payload: unknown; at: number }>> {
  return page.evaluate(() => (window as unknown as { vigilTest: { log: [] } }).vigilTest.log);
}

/** The host page's URL: config travels in the fragment, which no request and no Referer carries. */
export function hostUrl(origin: string, tab: string, config: Record<string, unknown>): string {
  return `${origin}/test/host.html?tab=${tab}#${encodeURIComponent(JSON.stringify(config))}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
