// What the demo's browser tests share: the demo as `npm start` serves it, and a browser to drive it.
import { MemoryStore, type VigilConfig } from '@vigil/core';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../../packages/client/test/support/browser.js';
import { type RunningDemo, startDemo } from '../src/demo.js';

export interface DemoInChromium {
  demo: RunningDemo;
  browser: Browser;
  store: MemoryStore;
  /** Closes the browser, then the demo, then its store. */
  close(): Promise<void>;
}

/** The demo on a free port with a memory store of its own, and Debian's Chromium, headless. */
export async function demoInChromium(config: VigilConfig, apiKey: string): Promise<DemoInChromium> {
  const store = new MemoryStore();
  const demo = await startDemo({ config, store, apiKey, port: 0 });
  const browser = await launchChromium();
  return {
    demo,
    browser,
    store,
    async close() {
      await browser.close();
      await demo.close();
      await store.close();
    },
  };
}

/** Opens the demo in `page` and signs in as `name`, once the signed-in view shows. */
export async function signIn(page: Page, demo: RunningDemo, name: string): Promise<void> {
  await page.goto(demo.url);
  await page.getByRole('textbox', { name: 'Name' }).fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
