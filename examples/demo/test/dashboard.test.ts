import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MemoryStore, resolveConfig } from '@vigil/core';
import type { Browser } from 'playwright-core';
import type { RunningDemo } from '../src/demo.js';
import { type DemoInChromium, demoInChromium } from './support.js';

/**
 * The operators' dashboard as `npm start` serves it: on the demo's own origin, signed in with the
 * demo's API key, it shows the session a visitor of the demo has just opened, and ends it.
 * (The dashboard's scripts come from `tsc -b`, as `npm start` runs it; packages/server's own
 * dashboard test covers the page in depth.)
 */

const config = resolveConfig({
  policies: {
    // Sleeping heartbeats 20 s apart: only push can tell the visitor's page of a revocation in time.
    demo: { idleTimeout: '1m', absoluteTimeout: '1h', warnBefore: '20s', heartbeatInterval: '10s' },
  },
});
const API_KEY = 'demo-dashboard-test-key';

describe("the demo's dashboard", () => {
  let demo: RunningDemo;
  let browser: Browser;
  let store: MemoryStore;

  let running: DemoInChromium | undefined;

  before(async () => {
    running = await demoInChromium(config, API_KEY);
    ({ demo, browser, store } = running);
  });

  after(() => running?.close());

  it("shows a demo visitor's session and revokes it; the visitor's page sees the end", async () => {
    const visitor = await browser.newPage();
    await visitor.goto(demo.url);
    await visitor.getByRole('textbox', { name: 'Name' }).fill('hopper');
    await visitor.getByRole('button', { name: 'Sign in' }).click();
    await visitor.getByRole('button', { name: 'Sign out' }).waitFor();

    const operator = await browser.newPage();
    await operator.goto(new URL('dashboard', demo.url).href);
    await operator.getByRole('textbox', { name: 'API key' }).fill(API_KEY);
    await operator.getByRole('button', { name: 'Sign in' }).click();
    await operator.locator('#counts tbody tr', { hasText: 'demo' }).waitFor();
    await operator.getByRole('textbox', { name: 'Subject', exact: true }).fill('hopper');
    await operator.getByRole('button', { name: 'Show sessions' }).click();
    const row = operator.locator('#sessions tbody tr', { hasText: 'hopper' });
    await row.waitFor();
    await row.getByRole('button', { name: 'Revoke', exact: true }).click();
    await row.waitFor({ state: 'detached' });

    // The demo has push on: the end reaches the visitor's page with no activity and no heartbeat due.
    await visitor.getByText('Your session has ended: it was revoked.').waitFor({ timeout: 3000 });
    const [session] = await store.listBySubject('hopper', Date.now());
    assert.equal(session?.reason, 'revoked');
  });
});
