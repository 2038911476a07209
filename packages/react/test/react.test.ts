import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { bundle, html, launchChromium, sleep, startVigil } from '../../client/test/support/browser.js';

const app = new URL('./pages/app.tsx', import.meta.url);
let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle(app)]);
});
after(() => browser?.close());

it('gives components the session state, a live countdown and the actions', async (t) => {
  const vigil = await startVigil({
    policy: { idleTimeout: '6s', absoluteTimeout: '1h', warnBefore: '5s' },
    pages: {
      '/test/app.html': { type: 'text/html', body: html('<div id="root"></div>', '/test/app.js') },
      '/test/app.js': { type: 'text/javascript', body: () => bundle(app) },
    },
  });
  t.after(() => vigil.close());
  const token = await vigil.createSession();
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${vigil.origin}/test/app.html#${encodeURIComponent(token)}`);

  const dialog = page.getByRole('alertdialog', { name: 'Session warning' });
  await dialog.waitFor({ timeout: 5000 });
  assert.equal(await page.locator('#state').textContent(), 'warning');
  const first = Number(await page.locator('#left').textContent());
  await sleep(1100);
  const second = Number(await page.locator('#left').textContent());
  assert.ok(second < first, `the countdown moves: ${first} then ${second}`);

  await dialog.getByRole('button', { name: 'Stay signed in' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 2000 });
  assert.equal(await page.locator('#state').textContent(), 'active');
  assert.deepEqual(
    vigil.heartbeats('active').map((r) => r.warning),
    ['extended'],
  );

  await dialog.waitFor({ timeout: 5000 });
  await dialog.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('status').filter({ hasText: 'Session ended: logout' }).waitFor({ timeout: 2000 });
  assert.equal((await vigil.read(token)).status, 401);
  assert.deepEqual(
    vigil.requests.filter((r) => r.method === 'DELETE').map((r) => [r.statusCode, r.warning]),
    [[204, 'signed_out']],
  );
});
