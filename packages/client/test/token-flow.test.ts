import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { bundle, launchChromium, sleep } from './support/browser.js';
import {
  pageAccessToken,
  pageApiCall,
  pageEvents,
  pageState,
  REFRESH_COOKIE,
  startTokenVigil,
  tokenPageUrl,
} from './support/token-browser.js';

let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle('token-host.ts')]);
});
after(() => browser?.close());

/** Types into the page's textarea for `ms`, as a person would. */
async function typeFor(page: Page, ms: number): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Notes' });
  for (const end = Date.now() + ms; Date.now() < end; ) {
    await box.press('a');
    await sleep(150);
  }
}

describe('token mode in Chromium against the real server', () => {
  it('keeps the app supplied with fresh access tokens, and runs the warning, extend and ended flow', async (t) => {
    // Access tokens never outlive the session, so with a 5 s idle timeout each lives at most 5 s.
    const vigil = await startTokenVigil({
      cookie: true,
      policy: { idleTimeout: '5s', absoluteTimeout: '1h', warnBefore: '2s', accessTokenTtl: '1m' },
    });
    t.after(() => vigil.close());
    const { sessionId, refreshToken } = await vigil.signIn();
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    // The backend hands the page its first refresh token; the first refresh trades it for the cookie.
    await page.goto(tokenPageUrl(vigil.origin, 'a', { refreshToken }));
    await pageState(page, 'active');

    const first = await pageApiCall(page);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, { sub: 'ada', sid: sessionId });
    const cookies = await context.cookies();
    assert.ok(
      cookies.some((c) => c.name === REFRESH_COOKIE && c.httpOnly),
      'the refresh token now lives in an HttpOnly cookie',
    );
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      stored: localStorage.length + sessionStorage.length,
    }));
    assert.deepEqual(visible, { cookie: '', stored: 0 }, 'no token where a script could read it');

    await typeFor(page, 7000); // past the first token's life and the first idle deadline
    const later = await pageApiCall(page);
    assert.equal(later.status, 200);
    assert.notEqual(later.token, first.token, 'a fresh access token');
    assert.equal((await vigil.api(first.token)).status, 401, 'the first one has expired');
    assert.equal(await page.locator('#state').textContent(), 'active');
    const refreshes = vigil.refreshes();
    assert.ok(
      refreshes.every((r) => r.statusCode === 200),
      JSON.stringify(refreshes.filter((r) => r.statusCode !== 200)),
    );
    assert.ok(refreshes.filter((r) => r.state === 'active').length >= 2, 'the typing was reported');
    assert.equal(refreshes[0]?.bodyToken, true);
    assert.ok(
      refreshes.slice(1).every((r) => !r.bodyToken && r.cookie),
      'after the first, the cookie',
    );

    // Quiet: the warning comes; "Stay signed in" is an active refresh that extends the session.
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor({ timeout: 5000 });
    const activeBefore = vigil.refreshes().filter((r) => r.state === 'active').length;
    await dialog.getByRole('button', { name: 'Stay signed in' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 2000 });
    await pageState(page, 'active');
    assert.equal(vigil.refreshes().filter((r) => r.state === 'active').length, activeBefore + 1);
    const extended = await pageApiCall(page);
    assert.equal(extended.status, 200);

    // Quiet again: the warning, then the end, refused by the server with the reason.
    await dialog.waitFor({ timeout: 5000 });
    await page
      .getByText('Your session has ended because you were inactive for too long.')
      .waitFor({ timeout: 5000 });
    assert.equal(await page.locator('#state').textContent(), 'ended');
    const events = await pageEvents(page);
    // (A status that arrives during the warning repeats `warning`, with the time left.)
    const kinds = events.map((e) => e.type).filter((type, i, all) => type !== all[i - 1]);
    assert.deepEqual(kinds, ['warning', 'extended', 'warning', 'ended']);
    assert.deepEqual(events.at(-1)?.payload, { reason: 'idle_timeout' });
    assert.deepEqual(await pageAccessToken(page), { error: { kind: 'ended', reason: 'idle_timeout' } });
  });

  it('refuses a refresh after the idle timeout, with the reason (body mode, no cookie)', async (t) => {
    const vigil = await startTokenVigil({
      cookie: false,
      policy: { idleTimeout: '3s', absoluteTimeout: '1h', warnBefore: '1s', accessTokenTtl: '1m' },
    });
    t.after(() => vigil.close());
    const { sessionToken, refreshToken } = await vigil.signIn();
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(tokenPageUrl(vigil.origin, 'a', { refreshToken }));
    await pageState(page, 'active');
    assert.ok('token' in (await pageAccessToken(page)));

    await pageState(page, 'ended', 6000);
    const refusal = vigil.refreshes().at(-1);
    assert.deepEqual(
      [refusal?.statusCode, refusal?.refusal, refusal?.bodyToken],
      [401, 'idle_timeout', true],
      'the end came from the server refusing a refresh',
    );
    assert.ok(vigil.refreshes(200).every((r) => r.bodyToken && !r.cookie));
    assert.deepEqual((await pageEvents(page)).at(-1)?.payload, { reason: 'idle_timeout' });
    assert.deepEqual(await pageAccessToken(page), { error: { kind: 'ended', reason: 'idle_timeout' } });
    const read = await vigil.read(sessionToken);
    assert.equal((read.body.error as { reason?: string }).reason, 'idle_timeout');
  });

  it('ends the session with refresh_reuse when a used refresh token comes back', async (t) => {
    const vigil = await startTokenVigil({
      cookie: false,
      policy: {
        idleTimeout: '1m',
        absoluteTimeout: '1h',
        warnBefore: '10s',
        accessTokenTtl: '1m',
        refreshGrace: '1s',
      },
    });
    t.after(() => vigil.close());
    const { sessionToken, refreshToken } = await vigil.signIn();
    const context = await browser.newContext();
    t.after(() => context.close());
    const page = await context.newPage();
    await page.goto(tokenPageUrl(vigil.origin, 'a', { refreshToken }));
    await pageState(page, 'active');
    assert.equal((await pageApiCall(page)).status, 200);

    // Someone else presents the refresh token the page has already used, past the grace window.
    await sleep(1200);
    const stolen = await vigil.refreshFromOutside(refreshToken);
    assert.equal(stolen.status, 401);
    assert.equal((stolen.body.error as { reason?: string }).reason, 'refresh_reuse');

    // The page's next refresh (an extend) learns that the session is over, and why.
    await page.evaluate(() =>
      (window as unknown as { tokenTest: { vigil: { extend(): Promise<void> } } }).tokenTest.vigil.extend(),
    );
    await pageState(page, 'ended');
    assert.deepEqual((await pageEvents(page)).at(-1)?.payload, { reason: 'refresh_reuse' });
    assert.deepEqual(await pageAccessToken(page), { error: { kind: 'ended', reason: 'refresh_reuse' } });
    await page.getByText('Your session has ended (refresh reuse).').waitFor({ timeout: 2000 });
    assert.equal(
      ((await vigil.read(sessionToken)).body.error as { reason?: string }).reason,
      'refresh_reuse',
    );
  });
});
