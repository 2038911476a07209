import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  bundle,
  eventsOf,
  hostUrl,
  launchChromium,
  sleep,
  startVigil,
  type TestVigil,
} from './support/browser.js';
import { hostPages } from './support/pages.js';

let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle('host.ts')]);
});
after(() => browser?.close());

type Frame = Record<string, unknown> & { at: number };

/** Every WebSocket a page opens, with the frames it sent and received (parsed), as Chromium saw them. */
function watchSockets(page: Page) {
  const sockets: Array<{ url: string; sent: Frame[]; received: Frame[]; closedAt: number | null }> = [];
  page.on('websocket', (ws) => {
    const socket = {
      url: ws.url(),
      sent: [] as Frame[],
      received: [] as Frame[],
      closedAt: null as number | null,
    };
    sockets.push(socket);
    const parse = (payload: string | Buffer) => ({ ...JSON.parse(String(payload)), at: Date.now() });
    ws.on('framesent', ({ payload }) => socket.sent.push(parse(payload)));
    ws.on('framereceived', ({ payload }) => socket.received.push(parse(payload)));
    ws.on('close', () => {
      socket.closedAt = Date.now();
    });
  });
  return {
    sockets,
    sent: () => sockets.flatMap((s) => s.sent),
    received: () => sockets.flatMap((s) => s.received),
    /** Resolves once a socket has had its first status (it is authenticated and in use). */
    async ready(timeoutMs = 5000) {
      for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(50)) {
        if (sockets.some((s) => s.received.some((f) => f.type === 'status') && s.closedAt === null)) return;
      }
      throw new Error('no socket became ready');
    },
  };
}

/** The paths of every `/v1/events` request a page made. */
function watchStreams(page: Page): string[] {
  const streams: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/v1/events') streams.push(request.url());
  });
  return streams;
}

async function setUp(t: { after(fn: () => unknown): void }, policy: Record<string, string>) {
  // The pages go first: a socket left open would only reconnect to a server that is going away.
  const context = await browser.newContext();
  t.after(() => context.close());
  const vigil = await startVigil({ pages: hostPages, policy: { absoluteTimeout: '1h', ...policy } });
  t.after(() => vigil.close());
  const token = await vigil.createSession();
  return { vigil, token, context };
}

/** `POST /v1/heartbeat`s; the log notes socket heartbeats too, as method `WS`. */
const httpHeartbeats = (vigil: TestVigil) =>
  vigil.requests.filter((r) => r.method === 'POST' && r.path === '/v1/heartbeat');

async function typeFor(page: Page, ms: number): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Notes' });
  for (const end = Date.now() + ms; Date.now() < end; await sleep(150)) await box.press('k');
}

async function endedWithin(
  page: Page,
  since: number,
  ms: number,
): Promise<{ reason: unknown; after: number }> {
  await page.waitForFunction(
    () =>
      (window as unknown as { vigilTest: { log: Array<{ type: string }> } }).vigilTest.log.some(
        (e) => e.type === 'ended',
      ),
    undefined,
    { timeout: ms + 2000, polling: 50 },
  );
  const ended = (await eventsOf(page)).find((e) => e.type === 'ended');
  return { reason: (ended?.payload as { reason?: string })?.reason, after: (ended?.at ?? 0) - since };
}

describe('transports in Chromium against the real server', () => {
  it('runs warning → extend → end over the WebSocket, with no HTTP heartbeat at all', async (t) => {
    // The warning after 1 s of quiet, then 4 s to answer it.
    const { vigil, token, context } = await setUp(t, { idleTimeout: '5s', warnBefore: '4s' });
    const page = await context.newPage();
    const socket = watchSockets(page);
    await page.goto(hostUrl(vigil.origin, 'a', { token, push: true }));
    await socket.ready();

    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor({ timeout: 5000 });
    const before = await vigil.read(token);
    await dialog.getByRole('button', { name: 'Stay signed in' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 2000 });
    const extended = await vigil.read(token);
    assert.ok(
      Date.parse(String(extended.body.idleExpiresAt)) > Date.parse(String(before.body.idleExpiresAt)),
    );

    await dialog.waitFor({ timeout: 5000 });
    const notice = page.getByRole('alert').filter({ hasText: 'Your session has ended' });
    await notice.waitFor({ timeout: 8000 });

    assert.deepEqual(httpHeartbeats(vigil), [], 'no POST /v1/heartbeat');
    assert.deepEqual(
      vigil.heartbeats('active').map((r) => [r.method, r.warning]),
      [['WS', 'extended']],
      'the server took the extend from the socket',
    );
    assert.equal(socket.sockets.length, 1, 'one socket the whole time');
    assert.deepEqual(socket.sent()[0] && { ...socket.sent()[0], at: 0 }, { type: 'auth', token, at: 0 });
    const beats = socket.sent().filter((f) => f.type === 'heartbeat');
    assert.deepEqual(
      beats.filter((f) => f.state === 'active').map((f) => f.warning),
      ['extended'],
      'the extend went over the socket, reported as the warning outcome',
    );
    const received = socket.received().map((f) => f.type);
    assert.ok(received.includes('warning'), `pushed: ${received.join(', ')}`);
    assert.equal(received.at(-1), 'ended');
    assert.deepEqual((await eventsOf(page)).find((e) => e.type === 'ended')?.payload, {
      reason: 'idle_timeout',
    });
    assert.equal((await vigil.read(token)).status, 401);
  });

  it('shows an admin revocation in every tab within a second, over the WebSocket', async (t) => {
    const { vigil, token, context } = await setUp(t, { idleTimeout: '1m', warnBefore: '10s' });
    const pages = [await context.newPage(), await context.newPage()];
    const sockets = pages.map(watchSockets);
    for (const [i, page] of pages.entries())
      await page.goto(hostUrl(vigil.origin, `t${i}`, { token, push: true }));
    await Promise.race(sockets.map((s) => s.ready()));
    await sleep(300);
    assert.equal(sockets.flatMap((s) => s.sockets).length, 1, 'only the leader tab holds a socket');

    const id = String((await vigil.read(token)).body.id);
    const revokedAt = Date.now();
    assert.equal(await vigil.revoke(id), 204);
    for (const page of pages) {
      const ended = await endedWithin(page, revokedAt, 1000);
      assert.equal(ended.reason, 'revoked');
      assert.ok(ended.after < 1000, `ended ${ended.after} ms after the revocation`);
      // The second is measured above, in the page; this only finds the notice, on a machine that may be busy.
      await page.getByRole('alert').filter({ hasText: 'it was revoked' }).waitFor({ timeout: 3000 });
    }
    assert.deepEqual(httpHeartbeats(vigil), []);
  });

  it('shows an admin revocation within a second over SSE when WebSockets are not used', async (t) => {
    const { vigil, token, context } = await setUp(t, { idleTimeout: '1m', warnBefore: '10s' });
    const page = await context.newPage();
    const socket = watchSockets(page);
    const streams = watchStreams(page);
    await page.goto(hostUrl(vigil.origin, 'a', { token, push: ['sse'] }));
    await page.locator('#state').filter({ hasText: 'active' }).waitFor({ timeout: 5000 });
    await sleep(500);
    assert.equal(streams.length, 1);

    const id = String((await vigil.read(token)).body.id);
    const revokedAt = Date.now();
    assert.equal(await vigil.revoke(id), 204);
    const ended = await endedWithin(page, revokedAt, 1000);
    assert.equal(ended.reason, 'revoked');
    assert.ok(ended.after < 1000, `ended ${ended.after} ms after the revocation`);
    assert.equal(socket.sockets.length, 0);
    assert.equal(streams.length, 1, 'not reopened after the end');
  });

  it('without push opens neither socket nor stream, and shows a revocation at the next sleeping heartbeat', async (t) => {
    const { vigil, token, context } = await setUp(t, { idleTimeout: '1m', warnBefore: '10s' });
    const page = await context.newPage();
    const socket = watchSockets(page);
    const streams = watchStreams(page);
    await page.goto(hostUrl(vigil.origin, 'a', { token, sleepingHeartbeatIntervalMs: 700 }));
    await page.locator('#state').filter({ hasText: 'active' }).waitFor({ timeout: 5000 });

    const id = String((await vigil.read(token)).body.id);
    const revokedAt = Date.now();
    assert.equal(await vigil.revoke(id), 204);
    const ended = await endedWithin(page, revokedAt, 3000);
    assert.equal(ended.reason, 'revoked');
    assert.equal(socket.sockets.length, 0, 'no WebSocket');
    assert.equal(streams.length, 0, 'no event stream');
    const last = httpHeartbeats(vigil).at(-1);
    assert.equal(last?.state, 'sleeping', 'the heartbeat that learnt of it');
  });

  it('falls back to SSE when the WebSocket constructor throws, and keeps the session alive over HTTP', async (t) => {
    const { vigil, token, context } = await setUp(t, { idleTimeout: '3s', warnBefore: '1s' });
    const page = await context.newPage();
    const streams = watchStreams(page);
    await page.goto(hostUrl(vigil.origin, 'a', { token, push: true, blockWebSocket: true }));
    const start = Date.now();
    await typeFor(page, 6000);
    assert.equal(streams.length, 1, 'the stream was opened, once');
    const alive = await vigil.read(token);
    assert.equal(alive.status, 200);
    assert.ok(Date.parse(String(alive.body.idleExpiresAt)) > start + 7000, 'kept alive by the typing');
    assert.ok(httpHeartbeats(vigil).filter((r) => r.state === 'active').length >= 3);
    assert.equal(await page.locator('#state').textContent(), 'active');
  });

  it('keeps the session alive over HTTP alone while upgrades are refused and streams fail, then returns to the WebSocket', async (t) => {
    const { vigil, token, context } = await setUp(t, { idleTimeout: '5s', warnBefore: '1s' });
    const page = await context.newPage();
    const socket = watchSockets(page);
    const streams = watchStreams(page);
    vigil.refuseUpgrades = true;
    await page.route('**/v1/events', (route) => route.abort());
    await page.goto(hostUrl(vigil.origin, 'a', { token, push: true, retry: { baseMs: 300, maxMs: 1500 } }));
    const start = Date.now();
    // Past the first deadline (start + 5 s), and until both were tried again (slower on a busy machine).
    const triedTwice = () => socket.sockets.length >= 2 && streams.length >= 2;
    await typeFor(page, 6000);
    for (const end = Date.now() + 10_000; !triedTwice() && Date.now() < end; ) await typeFor(page, 500);
    assert.ok(triedTwice(), 'both were tried, and tried again');
    assert.ok(socket.received().length === 0, 'no socket ever opened');
    const alive = await vigil.read(token);
    assert.equal(alive.status, 200);
    assert.ok(Date.parse(String(alive.body.idleExpiresAt)) > start + 6000, 'kept alive over HTTP');

    vigil.refuseUpgrades = false;
    await page.unroute('**/v1/events');
    await typeFor(page, 500);
    await socket.ready(3000);
    const overHttp = httpHeartbeats(vigil).length;
    await typeFor(page, 3000);
    assert.equal(httpHeartbeats(vigil).length, overHttp, 'heartbeats moved to the socket');
    assert.ok(socket.sent().filter((f) => f.type === 'heartbeat' && f.state === 'active').length >= 1);
    assert.equal((await vigil.read(token)).status, 200);
  });

  it('times out an idle user whose socket stays open: the socket sends no active heartbeat', async (t) => {
    const { vigil, token, context } = await setUp(t, { idleTimeout: '3s', warnBefore: '2s' });
    const page = await context.newPage();
    const socket = watchSockets(page);
    await page.goto(hostUrl(vigil.origin, 'a', { token, push: true }));
    await socket.ready();
    const deadline = Date.parse(String((await vigil.read(token)).body.idleExpiresAt));

    const ended = await endedWithin(page, deadline, 4000);
    assert.equal(ended.reason, 'idle_timeout');
    assert.ok(ended.after >= -2000, 'never more than 2 s before the server deadline');
    assert.equal(socket.sockets.length, 1);
    const closedAt = socket.sockets[0]?.closedAt ?? null;
    assert.ok(closedAt === null || closedAt >= deadline - 2000, 'the socket stayed open until the end');
    assert.deepEqual(
      socket.sent().filter((f) => f.type === 'heartbeat' && f.state === 'active'),
      [],
    );
    assert.deepEqual(vigil.heartbeats('active'), [], 'the server saw no active heartbeat, on any channel');
    assert.deepEqual(httpHeartbeats(vigil), []);
    assert.equal((await vigil.read(token)).status, 401);
  });
});
