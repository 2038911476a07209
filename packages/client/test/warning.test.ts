import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { PolicyInput } from '@vigil/core';
import type { Browser, Page } from 'playwright-core';
import { bundle, eventsOf, hostUrl, launchChromium, startVigil, type TestVigil } from './support/browser.js';
import { hostPages } from './support/pages.js';

let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle('host.ts')]);
});
after(() => browser?.close());

/**
 * The real server with one session under `policy` (else the test server's own), and one page of it;
 * all closed when the test ends.
 */
async function pageOfSession(
  t: TestContext,
  policy?: PolicyInput,
): Promise<{ vigil: TestVigil; token: string; page: Page }> {
  const vigil = await startVigil({ pages: hostPages, ...(policy && { policy }) });
  t.after(() => vigil.close());
  const token = await vigil.createSession();
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(hostUrl(vigil.origin, 'a', { token }));
  return { vigil, token, page };
}

/** The label of the warning's button that has focus (none: undefined). */
const focusedInWarning = (page: Page) =>
  page.evaluate(() => document.querySelector('vigil-warning')?.shadowRoot?.activeElement?.textContent);

describe('the warning dialog in Chromium against the real server', () => {
  it('appears when idle with a countdown; "Stay signed in" gets a later deadline from the server', async (t) => {
    // The warning after 1 s of quiet, then 4 s to answer it.
    const { vigil, token, page } = await pageOfSession(t, {
      idleTimeout: '5s',
      absoluteTimeout: '1h',
      warnBefore: '4s',
    });

    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor({ timeout: 5000 });
    assert.equal(await dialog.getAttribute('aria-modal'), 'true');
    assert.match((await dialog.locator('[part~="countdown"]').textContent()) ?? '', /^0:0[1-4]$/);
    const described = await dialog.evaluate((el) => {
      const root = el.getRootNode() as ShadowRoot;
      return root.getElementById(el.getAttribute('aria-describedby') ?? '')?.textContent ?? '';
    });
    assert.match(described, /signed out in\s+0:0\d/);
    // Focus starts on the safe choice and stays inside the dialog.
    const focused = () => focusedInWarning(page);
    assert.equal(await focused(), 'Stay signed in');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Sign out');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Stay signed in');

    const before = await vigil.read(token);
    assert.equal(before.status, 200);
    assert.equal(before.body.state, 'warning');
    await dialog.getByRole('button', { name: 'Stay signed in' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 2000 });
    const after = await vigil.read(token);
    assert.equal(after.status, 200);
    assert.ok(Date.parse(String(after.body.idleExpiresAt)) > Date.parse(String(before.body.idleExpiresAt)));
    assert.deepEqual(
      vigil.heartbeats('active').map((r) => r.warning),
      ['extended'],
      'one explicit extend, reported as the warning outcome',
    );

    // The warning comes back; Escape is "Stay signed in" too.
    await dialog.waitFor({ timeout: 5000 });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: 2000 });
    assert.equal(vigil.heartbeats('active').length, 2);
    assert.equal((await vigil.read(token)).status, 200);
    const types = (await eventsOf(page)).map((e) => e.type);
    assert.deepEqual(
      types.filter((type) => type !== 'warning'),
      ['extended', 'extended'],
    );
  });

  it('shows the end when idle through, no sooner than the server deadline, and the server answers 401', async (t) => {
    const { vigil, token, page } = await pageOfSession(t);
    const deadline = Date.parse(String((await vigil.read(token)).body.idleExpiresAt));

    const notice = page.getByRole('alert').filter({ hasText: 'Your session has ended' });
    await notice.waitFor({ timeout: 8000 });
    assert.ok(Date.now() >= deadline - 2000, 'never more than 2 s before the server deadline');
    assert.match((await notice.textContent()) ?? '', /inactive/);
    assert.equal(await page.getByRole('alertdialog').count(), 0, 'the warning is gone');
    assert.equal(await page.locator('#state').textContent(), 'ended');

    const answer = await vigil.read(token);
    assert.equal(answer.status, 401);
    assert.deepEqual(
      [
        (answer.body.error as Record<string, unknown>).code,
        (answer.body.error as Record<string, unknown>).reason,
      ],
      ['session_ended', 'idle_timeout'],
    );
    assert.deepEqual((await eventsOf(page)).find((e) => e.type === 'ended')?.payload, {
      reason: 'idle_timeout',
    });
  });

  it('keeps focus in the dialog when its backdrop or text is clicked; the page behind gets no keys', async (t) => {
    const { vigil, page } = await pageOfSession(t, {
      idleTimeout: '6s',
      absoluteTimeout: '1h',
      warnBefore: '5s',
    });
    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor({ timeout: 5000 });
    const focused = () => focusedInWarning(page);

    await page.mouse.click(3, 3); // the backdrop, over the page's corner
    assert.equal(await focused(), 'Stay signed in');
    await dialog.getByRole('heading').click(); // the dialog's title: text, not a control
    assert.equal(await focused(), 'Stay signed in');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Sign out');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'Stay signed in');
    await page.keyboard.type('typed');
    assert.equal(
      await page.getByRole('textbox', { name: 'Notes' }).inputValue(),
      '',
      'nothing reached the page',
    );
    assert.equal(vigil.heartbeats('active').length, 0, 'clicks and keys in the dialog did not extend');

    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden', timeout: 2000 });
    assert.deepEqual(
      vigil.heartbeats('active').map((r) => r.warning),
      ['extended'],
    );
  });

  it('"Sign out" ends the session on the server, reported as the warning outcome, and tells the page it was heard', async (t) => {
    const { vigil, token, page } = await pageOfSession(t, {
      idleTimeout: '6s',
      absoluteTimeout: '1h',
      warnBefore: '5s',
    });
    await page.evaluate(() => {
      document.addEventListener('vigil-sign-out', (event) => {
        void (event as CustomEvent<{ done: Promise<boolean> }>).detail.done.then((heard) => {
          document.body.dataset.heard = String(heard);
        });
      });
    });
    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor({ timeout: 5000 });
    await dialog.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForFunction(() => document.body.dataset.heard !== undefined, undefined, { timeout: 5000 });
    assert.equal(await page.evaluate(() => document.body.dataset.heard), 'true');
    const signedOut = vigil.requests.filter((r) => r.method === 'DELETE' && r.path === '/v1/session');
    assert.deepEqual(
      signedOut.map((r) => [r.warning, r.statusCode]),
      [['signed_out', 204]],
    );
    const answer = await vigil.read(token);
    assert.equal(answer.status, 401);
    assert.equal((answer.body.error as { reason?: string }).reason, 'logout');
  });

  it('sends no active heartbeat for a user idle the whole time, only sleeping ones', async (t) => {
    // 5 s idle, counted from the session's creation: the pages, slower to load on a busy machine, still
    // have seconds for sleeping heartbeats 0.7 s apart.
    const vigil = await startVigil({
      pages: hostPages,
      policy: { idleTimeout: '5s', absoluteTimeout: '1h', warnBefore: '2s' },
    });
    t.after(() => vigil.close());
    const token = await vigil.createSession();
    const context = await browser.newContext();
    t.after(() => context.close());
    const pages = await Promise.all([context.newPage(), context.newPage()]);
    for (const [i, page] of pages.entries()) {
      await page.goto(hostUrl(vigil.origin, `t${i}`, { token, sleepingHeartbeatIntervalMs: 700 }));
    }
    await pages[0]
      ?.getByRole('alert')
      .filter({ hasText: 'Your session has ended' })
      .waitFor({ timeout: 8000 });
    await pages[1]
      ?.getByRole('alert')
      .filter({ hasText: 'Your session has ended' })
      .waitFor({ timeout: 3000 });
    assert.equal(vigil.heartbeats('active').length, 0);
    assert.ok(vigil.heartbeats('sleeping').length >= 2, 'sleeping heartbeats were sent');
    assert.equal((await vigil.read(token)).status, 401);
  });
});
