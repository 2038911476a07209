import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { bundle, hostUrl, launchChromium, sleep, startVigil } from './support/browser.js';
import { hostPages } from './support/pages.js';

let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle('host.ts')]);
});
after(() => browser?.close());

/**
 * The warning shows 7 s after the session is made, so page set-up, slow on a busy machine, never meets
 * it (a warning waits for a click: typing does not dismiss it). Heartbeat interval: 2 s.
 */
const policy = { idleTimeout: '8s', absoluteTimeout: '1h', warnBefore: '1s', heartbeatInterval: '2s' };

/** Types into the page's textarea for `ms`, as a person would (keyboard events, not script). */
async function typeFor(page: Page, ms: number): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Notes' });
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await box.press('a');
    await sleep(150);
  }
}

describe('tabs of one origin act as one, in Chromium against the real server', () => {
  it("keeps tab A's session alive by typing only in tab B; logout in A ends B", async (t) => {
    const vigil = await startVigil({ pages: hostPages, policy });
    t.after(() => vigil.close());
    const token = await vigil.createSession();
    const context = await browser.newContext();
    t.after(() => context.close());
    const a = await context.newPage();
    const b = await context.newPage();
    await a.goto(hostUrl(vigil.origin, 'a', { token }));
    await b.goto(hostUrl(vigil.origin, 'b', { token }));

    const created = Date.now();
    await typeFor(b, 10_000); // well past the first idle deadline
    assert.equal(await a.locator('#state').textContent(), 'active');
    assert.equal(await a.getByRole('alert').count(), 0);
    const alive = await vigil.read(token);
    assert.equal(alive.status, 200);
    assert.ok(Date.parse(String(alive.body.idleExpiresAt)) > created + 10_000, 'extended by the typing in B');

    await a.getByRole('button', { name: 'Log out' }).click();
    const signedOut = b.getByRole('alert').filter({ hasText: 'You have been signed out' });
    await signedOut.waitFor({ timeout: 2000 });
    assert.equal(await b.locator('#state').textContent(), 'ended');
    // The tabs hear of the logout at once; the DELETE may still be on its way to the server.
    let answer = await vigil.read(token);
    for (const end = Date.now() + 2000; answer.status === 200 && Date.now() < end; ) {
      await sleep(50);
      answer = await vigil.read(token);
    }
    assert.equal(answer.status, 401);
    assert.equal((answer.body.error as { reason?: string }).reason, 'logout');
    assert.equal(vigil.requests.filter((r) => r.method === 'DELETE').length, 1);
  });

  it('has only one tab send heartbeats, and another take over when it closes', async (t) => {
    const vigil = await startVigil({ pages: hostPages, policy });
    t.after(() => vigil.close());
    const token = await vigil.createSession();
    const context = await browser.newContext();
    t.after(() => context.close());
    const tabs = ['a', 'b', 'c'];
    const pages: Page[] = [];
    for (const tab of tabs) {
      const page = await context.newPage();
      await page.goto(hostUrl(vigil.origin, tab, { token }));
      pages.push(page);
    }
    let n = 0;
    for (const end = Date.now() + 6000; Date.now() < end; n++) {
      await pages[n % 3]?.getByRole('textbox', { name: 'Notes' }).press('x');
      await sleep(200);
    }
    const senders = new Set(vigil.heartbeats().map((r) => r.tab));
    assert.equal(senders.size, 1, `heartbeats came from ${[...senders].join(', ')}`);
    assert.ok(vigil.heartbeats('active').length >= 2);
    const gaps = vigil
      .heartbeats('active')
      .slice(1)
      .map((r, i) => r.at - (vigil.heartbeats('active')[i]?.at ?? 0));
    assert.ok(
      gaps.every((gap) => gap >= 1800),
      `at most one per 2 s interval: ${gaps.join(', ')}`,
    );

    const leader = [...senders][0];
    const leaderPage = pages[tabs.indexOf(leader ?? '')];
    await leaderPage?.close();
    const rest = pages.filter((p) => p !== leaderPage);
    // By arrival: the log takes a request when it is answered, which under load may be after this.
    const closedAt = Date.now();
    for (const end = Date.now() + 5000; Date.now() < end; n++) {
      await rest[n % 2]?.getByRole('textbox', { name: 'Notes' }).press('y');
      await sleep(200);
    }
    const newSenders = new Set(
      vigil.requests.filter((r) => r.path === '/v1/heartbeat' && r.at >= closedAt).map((r) => r.tab),
    );
    assert.equal(newSenders.size, 1, `heartbeats came from ${[...newSenders].join(', ')}`);
    assert.notEqual([...newSenders][0], leader);
    assert.equal((await vigil.read(token)).status, 200);
  });
});
