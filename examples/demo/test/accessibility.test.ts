import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type MemoryStore, resolveConfig } from '@vigil/core';
import type { Browser, Page } from 'playwright-core';
import type { RunningDemo } from '../src/demo.js';
import { type DemoInChromium, demoInChromium, signIn } from './support.js';

/**
 * The demo page for keyboard and screen-reader users, in real Chromium: what its accessibility tree
 * says is live, where focus goes after each action, and that the "session ended" notice hides
 * nothing. (The end of an idle session is covered in demo.test.ts, which already waits for one.)
 */

// Long enough that no warning opens (and takes focus) while a test runs.
const config = resolveConfig({
  policies: {
    demo: { idleTimeout: '1m', absoluteTimeout: '1h', warnBefore: '20s', heartbeatInterval: '10s' },
  },
});

interface AXProperty {
  name: string;
  value: { value?: unknown };
}
interface AXNode {
  role?: { value?: unknown };
  name?: { value?: unknown };
  properties?: AXProperty[];
  backendDOMNodeId?: number;
}

/** Chromium's own accessibility node for the element `selector` matches. */
async function axNode(page: Page, selector: string): Promise<AXNode> {
  const cdp = await page.context().newCDPSession(page);
  const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
  const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
  assert.ok(nodeId, `no element matches ${selector}`);
  const { nodes } = (await cdp.send('Accessibility.getPartialAXTree', { nodeId, fetchRelatives: false })) as {
    nodes: AXNode[];
  };
  await cdp.detach();
  const [node] = nodes;
  assert.ok(node, `no accessibility node for ${selector}`);
  return node;
}

const liveOf = (node: AXNode): unknown => node.properties?.find((p) => p.name === 'live')?.value.value;

/** Waits a moment for focus to land on `#id`, then says where it is. */
async function assertFocus(page: Page, id: string, when: string): Promise<void> {
  await page
    .waitForFunction((want) => document.activeElement?.id === want, id, { timeout: 2000 })
    .catch(() => {});
  const actual = await page.evaluate(() => {
    const active = document.activeElement;
    return active ? `${active.localName}${active.id ? `#${active.id}` : ''}` : 'nothing';
  });
  assert.match(actual, new RegExp(`#${id}$`), `${when}, focus is on ${actual}`);
}

describe('the demo for keyboard and screen-reader users', () => {
  let demo: RunningDemo;
  let browser: Browser;
  let store: MemoryStore;

  let running: DemoInChromium | undefined;

  before(async () => {
    running = await demoInChromium(config, 'demo-a11y-test-key');
    ({ demo, browser, store } = running);
  });

  after(() => running?.close());

  it('keeps the once-a-second clock and the heartbeat field out of live regions, with their names', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, demo, 'ada');
    await page.waitForFunction(() => /^\d+:\d\d$/.test(document.querySelector('#clock')?.textContent ?? ''));

    const clock = await axNode(page, '#clock');
    assert.equal(clock.name?.value, 'Session clock');
    assert.equal(clock.role?.value, 'timer');
    assert.ok([undefined, 'off'].includes(liveOf(clock) as string), `the clock is live=${liveOf(clock)}`);
    const leader = await axNode(page, '#leader');
    assert.equal(leader.name?.value, 'Heartbeats from this tab');
    assert.ok(
      [undefined, 'off'].includes(liveOf(leader) as string),
      `the heartbeat field is live=${liveOf(leader)}`,
    );

    // Nothing else that ticks is live either: the page's one live region is its notice, empty now.
    const cdp = await context.newCDPSession(page);
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AXNode[] };
    const live = nodes.filter((node) => ['polite', 'assertive'].includes(liveOf(node) as string));
    assert.deepEqual(
      live.map((node) => `${node.role?.value} "${node.name?.value}"`),
      [],
      'live regions while signed in',
    );
    await context.close();
  });

  it('moves focus to the signed-in heading after signing in, and to the Name field after signing out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, demo, 'grace');
    await assertFocus(page, 'who', 'after signing in');
    assert.equal(
      await page
        .getByRole('heading', { name: 'Signed in as grace' })
        .evaluate((el) => el === document.activeElement),
      true,
    );

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('textbox', { name: 'Name' }).waitFor();
    await assertFocus(page, 'name', 'after signing out');
    await context.close();
  });

  it('announces the end of a session in the page flow, covering none of the page', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signIn(page, demo, 'hopper');
    await page.getByRole('button', { name: 'Sign out' }).click();

    const notice = page.getByRole('alert').filter({ hasText: 'You have been signed out' });
    await notice.waitFor();
    const box = await notice.boundingBox();
    assert.ok(box, 'the notice is visible');
    const content = page.locator('h1, .lede, #notice, #sign-in label, #sign-in input, #sign-in button');
    for (const element of await content.all()) {
      const other = await element.boundingBox();
      if (other === null || other.width === 0 || other.height === 0) continue;
      const overlaps: boolean =
        box.x < other.x + other.width &&
        other.x < box.x + box.width &&
        box.y < other.y + other.height &&
        other.y < box.y + box.height;
      const what = await element.evaluate((el) => `${el.localName}: ${el.textContent?.trim().slice(0, 30)}`);
      assert.equal(overlaps, false, `the notice covers ${what}`);
    }
    // Still there when the user scrolls: it is part of the page, not laid over it.
    const position = await notice.evaluate((el) => getComputedStyle(el).position);
    assert.ok(['static', 'relative'].includes(position), `the notice is position: ${position}`);
    await context.close();
  });

  it('asks for no favicon that is not there, on the demo and on the embedded tool', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`${message.text()} (${message.location().url})`);
    });
    for (const url of [demo.url, `${demo.toolOrigin}/`]) {
      await page.goto(url);
      // Chromium asks for /favicon.ico just after the load event.
      await page.waitForTimeout(500);
    }
    assert.deepEqual(errors, []);
    await context.close();
  });
});
