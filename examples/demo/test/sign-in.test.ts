import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type MemoryStore, resolveConfig } from '@vigil/core';
import type { Browser, Page } from 'playwright-core';
import type { RunningDemo } from '../src/demo.js';
import { type DemoInChromium, demoInChromium } from './support.js';

/**
 * Signing in and out of the demo when things go wrong, in real Chromium: an impatient double click,
 * a blank name, a server that cannot be reached.
 */

const config = resolveConfig({
  policies: {
    demo: { idleTimeout: '1m', absoluteTimeout: '1h', warnBefore: '20s', heartbeatInterval: '10s' },
  },
});

describe('signing in and out of the demo', () => {
  let demo: RunningDemo;
  let browser: Browser;
  let store: MemoryStore;

  let running: DemoInChromium | undefined;

  before(async () => {
    running = await demoInChromium(config, 'demo-sign-in-test-key');
    ({ demo, browser, store } = running);
  });

  after(() => running?.close());

  async function liveSessions(subject: string): Promise<number> {
    const sessions = await store.listBySubject(subject, Date.now());
    return sessions.filter((session) => session.endedAt === null).length;
  }

  /** Counts the page's sign-in requests; `delayMs` holds each one back, as a slow network would. */
  async function countSignIns(page: Page, delayMs = 0): Promise<{ count: number }> {
    const counter = { count: 0 };
    await page.route('**/demo/sign-in', async (route) => {
      counter.count++;
      await sleep(delayMs);
      await route.continue();
    });
    return counter;
  }

  it('signs in once for a double click, and signing out leaves no session behind', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(demo.url);
    const requests = await countSignIns(page, 500);
    await page.getByRole('textbox', { name: 'Name' }).fill('turing');
    await page.getByRole('button', { name: 'Sign in' }).dblclick();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await sleep(1000);
    assert.equal(requests.count, 1, 'sign-in requests');
    assert.equal(await liveSessions('turing'), 1, 'live sessions after signing in');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have been signed out').waitFor();
    const until = Date.now() + 3000;
    while ((await liveSessions('turing')) > 0 && Date.now() < until) await sleep(100);
    assert.equal(await liveSessions('turing'), 0, 'live sessions after signing out');
    // The server was reached: nothing more to say than the sign-out itself.
    assert.equal(await page.getByText('could not be reached').count(), 0);
    await context.close();
  });

  it('asks for a name when the Name field holds only spaces, without asking the server', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(demo.url);
    const requests = await countSignIns(page);
    const name = page.getByRole('textbox', { name: 'Name' });
    await name.fill('   ');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Enter your name').waitFor({ timeout: 2000 });
    assert.equal(requests.count, 0, 'sign-in requests');
    assert.equal(
      await name.evaluate((el) => el === document.activeElement),
      true,
      'the Name field has focus',
    );
    assert.equal(await name.getAttribute('aria-invalid'), 'true');
    await context.close();
  });

  it('says so when the server cannot be reached, with no uncaught error, and lets the user try again', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(demo.url);
    await page.route('**/demo/sign-in', (route) => route.abort('connectionrefused'));
    await page.getByRole('textbox', { name: 'Name' }).fill('liskov');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Cannot reach the server').waitFor({ timeout: 2000 });
    await sleep(200);
    assert.deepEqual(errors, []);

    await page.unroute('**/demo/sign-in');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await page.getByText('Cannot reach the server').count(), 0, 'the old message is gone');
    assert.deepEqual(errors, []);
    await context.close();
  });

  it('tells a user who signs out while the server cannot be reached that the session lives on for now', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(demo.url);
    await page.getByRole('textbox', { name: 'Name' }).fill('lovelace');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    // The server has told the page its deadline: the clock shows it.
    await page.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector('#clock')?.textContent ?? ''));

    await context.setOffline(true);
    await page.getByRole('button', { name: 'Sign out' }).click();
    const said = page.getByText(/could not be reached.*within \d+:\d\d/);
    // After the retries (the demo waits at most 4 s between them): some 8 to 15 s.
    await said.waitFor({ timeout: 25_000 });
    assert.equal(await liveSessions('lovelace'), 1, 'the server still holds the session');
    // What the page says is in its live region, so that it is heard as well as seen.
    assert.equal(await said.evaluate((el) => el.closest('[role="status"]') !== null), true);
    await context.close();
  });
});
