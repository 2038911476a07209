import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type MemoryStore, resolveConfig } from '@vigil/core';
import type { Browser, Page } from 'playwright-core';
import type { RunningDemo } from '../src/demo.js';
import { type DemoInChromium, demoInChromium, signIn } from './support.js';

const artifacts = new URL('../../../test-artifacts/', import.meta.url);

// Short enough to see the whole life of a session in seconds, long enough for a slow CI machine.
const config = resolveConfig({
  policies: {
    demo: { idleTimeout: '6s', absoluteTimeout: '2m', warnBefore: '3s', heartbeatInterval: '1s' },
  },
});

describe('the demo in Chromium', () => {
  let demo: RunningDemo;
  let browser: Browser;
  let store: MemoryStore;

  let running: DemoInChromium | undefined;

  before(async () => {
    running = await demoInChromium(config, 'demo-test-key');
    ({ demo, browser, store } = running);
  });

  after(() => running?.close());

  it('signs in, shows the clock and the embedded tool, and a second tab joins', async () => {
    const context = await browser.newContext();
    const first = await context.newPage();
    await signIn(first, demo, 'ada');
    await first.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector('#clock')?.textContent ?? ''));
    const tool = first.frameLocator('iframe[title="Third-party tool"]');
    await tool.getByRole('textbox', { name: /Notes/ }).waitFor();
    assert.notEqual(new URL(demo.toolOrigin).port, new URL(demo.url).port, 'the tool is on another origin');

    const [second] = await Promise.all([
      context.waitForEvent('page'),
      first.getByRole('link', { name: 'Open a second tab' }).click(),
    ]);
    await second.getByRole('button', { name: 'Sign out' }).waitFor();
    assert.equal(await second.getByRole('heading', { name: 'Signed in as ada' }).count(), 1);

    await mkdir(artifacts, { recursive: true });
    await first.screenshot({ path: new URL('demo-signed-in.png', artifacts).pathname, fullPage: true });

    await first.getByRole('button', { name: 'Sign out' }).click();
    for (const page of [first, second]) {
      await page.getByText('You have been signed out').waitFor({ timeout: 5000 });
    }
    await context.close();
  });

  it('warns an idle user, and typing only inside the embedded tool keeps the session alive', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, demo, 'grace');
    const dialog = page.getByRole('alertdialog');
    await dialog.waitFor({ timeout: 8000 });
    await page.getByRole('button', { name: 'Stay signed in' }).click();
    await dialog.waitFor({ state: 'hidden' });

    // Work only inside the cross-origin frame for longer than the idle timeout.
    const notes = page
      .frameLocator('iframe[title="Third-party tool"]')
      .getByRole('textbox', { name: /Notes/ });
    const until = Date.now() + 8000;
    while (Date.now() < until) {
      await notes.press('a');
      await page.waitForTimeout(400);
    }
    const [live] = await store.listBySubject('grace', Date.now());
    assert.equal(live?.endedAt, null, 'the session outlived its idle timeout thanks to the frame');
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).isVisible(), true);
    await context.close();
  });

  it('ends the session of a user who stays idle, in the page and on the server', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, demo, 'linus');
    await page.getByText('Your session has ended').waitFor({ timeout: 12_000 });
    const [ended] = await store.listBySubject('linus', Date.now());
    assert.equal(ended?.reason, 'idle_timeout');
    assert.equal(await page.getByRole('button', { name: 'Sign in' }).isVisible(), true);
    // Focus was in the warning dialog, which is gone: it lands on the field that starts over.
    const name = page.getByRole('textbox', { name: 'Name' });
    await page
      .waitForFunction(() => document.activeElement?.id === 'name', null, { timeout: 2000 })
      .catch(() => {});
    assert.equal(
      await name.evaluate((el) => el === document.activeElement),
      true,
      'the Name field has focus',
    );
    // The notice is part of the page: the heading above it stays in sight.
    const notice = await page.getByRole('alert').filter({ hasText: 'Your session has ended' }).boundingBox();
    const heading = await page.getByRole('heading', { name: 'Vigil demo' }).boundingBox();
    assert.ok(notice && heading);
    assert.ok(notice.y >= heading.y + heading.height, 'the notice is below the heading, not over it');
    await context.close();
  });
});
