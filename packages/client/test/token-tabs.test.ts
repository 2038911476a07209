import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { bundle, launchChromium, sleep } from './support/browser.js';
import {
  type PageToken,
  pageAccessToken,
  pageApiCall,
  pageState,
  REFRESH_COOKIE,
  startTokenVigil,
  type TokenPageConfig,
  type TokenVigil,
  tokenPageUrl,
} from './support/token-browser.js';

let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle('token-host.ts')]);
});
after(() => browser?.close());

/**
 * A long idle timeout (heartbeats every 20 minutes: none during the test) and 5-minute access tokens
 * that the pages refresh 1.5 s after each arrives, so both tabs' timers come due together, again and
 * again. The refresh token is in the HttpOnly cookie both tabs share, as the backend would set it.
 */
const policy = { idleTimeout: '1h', absoluteTimeout: '2h', warnBefore: '1m', accessTokenTtl: '5m' };
const REFRESH_AFTER_MS = 1500;

async function twoTabs(
  vigil: TokenVigil,
  context: BrowserContext,
  config: TokenPageConfig,
): Promise<{ a: Page; b: Page; sessionToken: string }> {
  const { sessionToken, refreshToken } = await vigil.signIn();
  await context.addCookies([
    { name: REFRESH_COOKIE, value: refreshToken, url: vigil.origin, httpOnly: true, sameSite: 'Lax' },
  ]);
  const a = await context.newPage();
  await a.goto(tokenPageUrl(vigil.origin, 'a', config));
  await pageState(a, 'active');
  const b = await context.newPage();
  await b.goto(tokenPageUrl(vigil.origin, 'b', config));
  await pageState(b, 'active');
  return { a, b, sessionToken };
}

function tokenOf(answer: PageToken): string {
  assert.ok('token' in answer, `no token: ${JSON.stringify(answer)}`);
  return answer.token;
}

describe('two tabs of one session in token mode, in Chromium against the real server', () => {
  it('refresh once for both: the timers race, one refresh wins, both hold its token', async (t) => {
    const vigil = await startTokenVigil({ cookie: true, policy });
    t.after(() => vigil.close());
    const context = await browser.newContext();
    t.after(() => context.close());
    const { a, b, sessionToken } = await twoTabs(vigil, context, { refreshAfterMs: REFRESH_AFTER_MS });
    await sleep(300);
    const since = vigil.refreshes().length;
    const window = REFRESH_AFTER_MS * 3 + 500;
    await sleep(window);
    const raced = vigil.refreshes().slice(since);

    assert.ok(raced.length >= 2, `the timers came due (${raced.length} refreshes)`);
    const gaps = raced.slice(1).map((r, i) => r.at - (raced[i]?.at ?? 0));
    assert.ok(
      gaps.every((gap) => gap >= REFRESH_AFTER_MS - 100),
      `one refresh per round, not one per tab: gaps ${gaps.join(', ')} ms`,
    );
    assert.ok(raced.length <= 3, `${raced.length} refreshes in ${window} ms`);
    assert.ok(raced.every((r) => r.statusCode === 200 && r.cookie && !r.bodyToken));

    const [tokenA, tokenB] = await Promise.all([pageAccessToken(a), pageAccessToken(b)]);
    assert.equal(tokenOf(tokenA), tokenOf(tokenB), 'both tabs hold the same access token');
    assert.equal((await vigil.api(tokenOf(tokenA))).status, 200);
    for (const page of [a, b]) assert.equal(await page.locator('#state').textContent(), 'active');
    assert.equal((await vigil.read(sessionToken)).status, 200, 'nobody was logged out');
  });

  it('re-check at the same moment: their refreshes take turns with the shared cookie, never racing on it', async (t) => {
    const vigil = await startTokenVigil({ cookie: true, policy });
    t.after(() => vigil.close());
    const context = await browser.newContext();
    t.after(() => context.close());
    // The default schedule: nothing is due for 4½ minutes, so the tabs race only when asked to.
    const { a, b, sessionToken } = await twoTabs(vigil, context, {});
    await sleep(300);
    const since = vigil.refreshes().length;
    // Both tabs' SDKs re-check the session at once (as on waking from sleep): two sleeping refreshes,
    // taking turns, each with the cookie the other left.
    const reads = await Promise.all(
      [a, b].map((page) =>
        page.evaluate(async () => {
          const mode = (
            window as unknown as {
              tokenTest: { tokenMode: { transport(): { read(): Promise<{ kind: string }> } } };
            }
          ).tokenTest.tokenMode;
          return (await mode.transport().read()).kind;
        }),
      ),
    );
    assert.deepEqual(reads, ['ok', 'ok']);
    const turns = vigil.refreshes().slice(since);
    assert.equal(turns.length, 2);
    assert.ok(turns.every((r) => r.statusCode === 200));
    assert.ok((turns[1]?.at ?? 0) - (turns[0]?.at ?? 0) >= 40, 'one after the other, not together');
    const [tokenA, tokenB] = await Promise.all([pageAccessToken(a), pageAccessToken(b)]);
    assert.equal(tokenOf(tokenA), tokenOf(tokenB));
    assert.equal((await pageApiCall(b)).status, 200);
    assert.equal((await vigil.read(sessionToken)).status, 200);
  });

  it('without Web Locks, racing tabs may both refresh, and the grace window keeps both signed in', async (t) => {
    const vigil = await startTokenVigil({ cookie: true, policy });
    t.after(() => vigil.close());
    const context = await browser.newContext();
    t.after(() => context.close());
    const { a, b, sessionToken } = await twoTabs(vigil, context, {
      refreshAfterMs: REFRESH_AFTER_MS,
      locks: false,
    });
    await sleep(REFRESH_AFTER_MS * 3);
    const refreshes = vigil.refreshes();
    assert.ok(refreshes.length >= 4, `${refreshes.length} refreshes`);
    assert.deepEqual(
      refreshes.filter((r) => r.statusCode !== 200),
      [],
      'no refusal: no reuse was seen',
    );
    for (const page of [a, b]) {
      assert.equal(await page.locator('#state').textContent(), 'active');
      const call = await pageApiCall(page);
      assert.equal(call.status, 200);
    }
    assert.equal((await vigil.read(sessionToken)).status, 200);
    const gaps = refreshes.slice(1).map((r, i) => r.at - (refreshes[i]?.at ?? 0));
    t.diagnostic(`without locks: ${refreshes.length} refreshes, ${gaps.join(', ')} ms apart`);
  });
});
