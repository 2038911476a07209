import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import {
  bundle,
  hostUrl,
  launchChromium,
  sleep,
  startStatic,
  startVigil,
  type TestVigil,
} from './support/browser.js';
import { framePages, hostPages } from './support/pages.js';

// Three origins: the host (the Vigil server's own, 127.0.0.1), an allowed tool and a stranger, both
// on `localhost` — another host name, so another origin, even on the same machine.
let browser: Browser;
let tool: { port: number; close(): Promise<void> };
let stranger: { port: number; close(): Promise<void> };
before(async () => {
  [browser, tool, stranger] = await Promise.all([
    launchChromium(),
    startStatic(framePages),
    startStatic(framePages),
    bundle('host.ts'),
    bundle('frame.ts'),
  ]);
});
after(async () => {
  await browser?.close();
  await tool?.close();
  await stranger?.close();
});

// The warning after 5 s of quiet: slow page and frame loading never meets it.
const policy = { idleTimeout: '6s', absoluteTimeout: '1h', warnBefore: '1s' };

async function hostWithFrame(
  vigil: TestVigil,
  token: string,
  framePort: number,
  extra: Record<string, unknown> = {},
): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const frame = `http://localhost:${framePort}/frame.html#host=${encodeURIComponent(vigil.origin)}`;
  await page.goto(
    hostUrl(vigil.origin, 'host', {
      token,
      frames: [frame],
      allow: [`http://localhost:${tool.port}`],
      ...extra,
    }),
  );
  return page;
}

async function typeInFrame(page: Page, ms: number): Promise<void> {
  const box = page.frameLocator('iframe[title="tool 1"]').getByRole('textbox', { name: 'Tool input' });
  for (const end = Date.now() + ms; Date.now() < end; await sleep(150)) await box.press('z');
}

describe('the frame bridge in Chromium against the real server', () => {
  it('keeps the host session alive while the user works only inside an allowed cross-origin frame', async (t) => {
    const vigil = await startVigil({ pages: hostPages, policy });
    t.after(() => vigil.close());
    const token = await vigil.createSession();
    const page = await hostWithFrame(vigil, token, tool.port);
    t.after(() => page.context().close());
    assert.equal(new URL(page.frames()[1]?.url() ?? '').origin, `http://localhost:${tool.port}`);

    const created = Date.now();
    await typeInFrame(page, 10_000);
    assert.equal(await page.locator('#state').textContent(), 'active');
    const answer = await vigil.read(token);
    assert.equal(answer.status, 200);
    assert.ok(Date.parse(String(answer.body.idleExpiresAt)) > created + 10_000, 'extended by the frame');
    assert.ok(vigil.heartbeats('active').length >= 3);
  });

  it('ignores a frame whose origin is not on the allow-list', async (t) => {
    const vigil = await startVigil({ pages: hostPages, policy });
    t.after(() => vigil.close());
    const token = await vigil.createSession();
    const page = await hostWithFrame(vigil, token, stranger.port);
    t.after(() => page.context().close());

    await typeInFrame(page, 7500);
    assert.equal(await page.locator('#state').textContent(), 'ended');
    assert.equal(vigil.heartbeats('active').length, 0);
    const answer = await vigil.read(token);
    assert.equal(answer.status, 401);
    assert.equal((answer.body.error as { reason?: string }).reason, 'idle_timeout');
  });

  it('warns a user whose focus was left in the frame: the dialog taking focus is not activity', async (t) => {
    // With push, the server's own `warning` arrives just after the client has warned: the moment
    // the dialog's focus (a window `focus` event as it leaves the frame) must not count.
    const vigil = await startVigil({
      pages: hostPages,
      // 5 s to answer the warning: a slow machine noticing the dialog late still has seconds left.
      policy: { idleTimeout: '8s', absoluteTimeout: '1h', warnBefore: '5s' },
    });
    t.after(() => vigil.close());
    const token = await vigil.createSession();
    const page = await hostWithFrame(vigil, token, tool.port, { push: true });
    t.after(() => page.context().close());

    await typeInFrame(page, 500);
    const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
    await dialog.waitFor({ timeout: 10_000 });
    const activeAtWarning = vigil.heartbeats('active').length;
    await sleep(1000);
    assert.ok(await dialog.isVisible(), 'the warning stays until the user chooses');
    assert.equal(vigil.heartbeats('active').length, activeAtWarning, 'nothing extended the session');
    assert.equal((await vigil.read(token)).body.state, 'warning');
  });
});
