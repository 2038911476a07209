import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryStore, resolveConfig } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../client/test/support/browser.js';
import { buildApp } from '../src/index.js';

const API_KEY = 'dashboard-test-key-0123456789';
const root = new URL('../../../', import.meta.url);
const artifacts = new URL('test-artifacts/', root);

/**
 * The dashboard's scripts are compiled by `tsc -b` (the `src/dashboard` project); build them here
 * so that this test always runs the current sources (incremental: nothing to do when up to date).
 */
function buildDashboard(): void {
  const result = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('node_modules/typescript/bin/tsc', root)), '-b', 'packages/server/src/dashboard'],
    { cwd: fileURLToPath(root), encoding: 'utf8' },
  );
  assert.equal(result.status, 0, `the dashboard does not compile:\n${result.stdout}${result.stderr}`);
}

async function api(
  origin: string,
  method: string,
  path: string,
  options: { auth?: string; body?: unknown } = {},
) {
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.auth ?? API_KEY}`,
      ...(options.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? null : JSON.parse(text) };
}

describe('the dashboard (/dashboard)', () => {
  let app: FastifyInstance;
  let origin: string;

  before(async () => {
    buildDashboard();
    app = await buildApp({
      config: resolveConfig({
        policies: {
          default: { idleTimeout: '2m', absoluteTimeout: '1h', warnBefore: '30s' },
          admin: { idleTimeout: '5m', absoluteTimeout: '8h', warnBefore: '1m' },
        },
      }),
      store: new MemoryStore(),
      apiKey: API_KEY,
      logger: false,
      sweeper: { intervalMs: 200 },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    await app?.close();
  });

  test('serves the page with a strict content security policy, and only its own files', async () => {
    const page = await fetch(`${origin}/dashboard`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers.get('content-type')), /^text\/html/);
    const csp = String(page.headers.get('content-security-policy'));
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(await page.text(), /<label for="api-key">API key<\/label>/);

    for (const file of ['main.js', 'api.js', 'uplot.js', 'uplot.css', 'dashboard.css']) {
      const response = await fetch(`${origin}/dashboard/${file}`);
      assert.equal(response.status, 200, file);
      assert.match(
        String(response.headers.get('content-type')),
        file.endsWith('.css') ? /^text\/css/ : /^text\/javascript/,
      );
    }
    for (const path of [
      '/dashboard/nope.js',
      '/dashboard/..%2Fpackage.json',
      '/dashboard/main.d.ts',
      '/dashboard/index.html',
    ]) {
      const response = await fetch(`${origin}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, 'not_found');
    }
  });

  describe('in Chromium', () => {
    let browser: Browser;
    before(async () => {
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
    });

    async function signIn(page: Page, key: string): Promise<void> {
      await page.getByRole('textbox', { name: 'API key' }).fill(key);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }

    const rows = (page: Page) => page.locator('#sessions tbody tr');

    test('signs in with the key in memory only, shows live sessions, the chart and the feed, and revokes', async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      // Script errors and CSP violations show up as console errors; refusals as responses.
      const problems: string[] = [];
      const refused: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
          problems.push(message.text());
        }
      });
      page.on('pageerror', (error) => problems.push(error.message));
      page.on('response', (response) => {
        if (response.status() >= 400)
          refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
      });
      await page.goto(`${origin}/dashboard`);
      const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');
      assert.equal(await focusedId(), 'api-key', 'the key field is ready for typing');

      await signIn(page, 'not-the-key-0123456789');
      await page.getByRole('alert').getByText('The server refused this API key.').waitFor();
      await signIn(page, API_KEY);
      await page.getByRole('heading', { name: 'Live sessions' }).waitFor();
      assert.equal(await focusedId(), 'counts-title', 'focus moves from the hidden form to the dashboard');
      await page.getByText('Live: connected.').waitFor();
      // The key is nowhere but in the page's memory.
      assert.deepEqual(
        await page.evaluate(() => ({
          local: localStorage.length,
          session: sessionStorage.length,
          cookie: document.cookie,
          url: location.href,
          field: (document.getElementById('api-key') as HTMLInputElement).value,
        })),
        { local: 0, session: 0, cookie: '', url: `${origin}/dashboard`, field: '' },
      );

      // A session created through the API, and some heartbeats for the chart.
      const first = await api(origin, 'POST', '/v1/sessions', { body: { subject: 'ada' } });
      assert.equal(first.status, 201);
      for (let i = 0; i < 3; i++) {
        const beat = await api(origin, 'POST', '/v1/heartbeat', {
          auth: first.body.token,
          body: { state: 'active' },
        });
        assert.equal(beat.status, 200);
      }
      await page.locator('#feed li', { hasText: 'ada' }).getByText('created').waitFor();

      await page.getByRole('textbox', { name: 'Subject', exact: true }).fill('ada');
      await page.getByRole('button', { name: 'Show sessions' }).click();
      await rows(page).first().waitFor();
      assert.equal(await rows(page).count(), 1);
      const row = rows(page).first();
      assert.equal(await row.getAttribute('data-session-id'), first.body.session.id);
      assert.equal(await row.getByRole('cell', { name: 'ada', exact: true }).count(), 1);
      const left = await row.getByRole('progressbar').evaluate((bar) => {
        const progress = bar as HTMLProgressElement;
        return { value: progress.value, max: progress.max };
      });
      assert.equal(left.max, 120_000, 'a full bar is the idle timeout');
      assert.ok(left.value > 100_000 && left.value <= 120_000, `time left ${left.value}`);

      // A second session of the subject shows up on its own (the feed triggers a new read).
      const second = await api(origin, 'POST', '/v1/sessions', { body: { subject: 'ada', policy: 'admin' } });
      await page.locator(`tr[data-session-id="${second.body.session.id}"]`).waitFor();
      assert.equal(await rows(page).count(), 2);

      // Counts and the chart follow.
      await page
        .locator('#counts tbody tr', { hasText: 'admin' })
        .getByRole('cell', { name: '1', exact: true })
        .first()
        .waitFor();
      await page.locator('#chart-summary', { hasText: '3 heartbeats' }).waitFor();
      const painted = await page.evaluate(() => {
        const canvas = document.querySelector('#chart canvas');
        if (!(canvas instanceof HTMLCanvasElement) || canvas.width === 0 || canvas.height === 0) return 0;
        const pixels = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? [];
        let count = 0;
        for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] ?? 0) > 0) count++;
        return count;
      });
      assert.ok(painted > 1000, `the chart's canvas has ${painted} painted pixels`);

      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: fileURLToPath(new URL('dashboard.png', artifacts)), fullPage: true });

      // Each "Revoke" says whose session it ends, for a screen reader listing the buttons.
      const descriptions = await page.$$eval('#sessions button.revoke', (buttons) =>
        buttons.map((button) =>
          (button.getAttribute('aria-describedby') ?? '')
            .split(' ')
            .map((id) => document.getElementById(id)?.textContent ?? '?')
            .join(', '),
        ),
      );
      assert.equal(descriptions.length, 2);
      for (const description of descriptions) assert.match(description, /^ada, [\w-]{6,}…?$/);

      // Revoke one, by keyboard: its row goes, the server agrees, the feed says so, and focus goes
      // on to the row that is left.
      await page
        .locator(`tr[data-session-id="${first.body.session.id}"]`)
        .getByRole('button', { name: 'Revoke', exact: true })
        .press('Enter');
      await page.locator(`tr[data-session-id="${first.body.session.id}"]`).waitFor({ state: 'detached' });
      assert.equal(await rows(page).count(), 1);
      assert.equal(
        await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-session-id')),
        second.body.session.id,
      );
      const revoked = await api(origin, 'GET', `/v1/sessions/${first.body.session.id}`);
      assert.equal(revoked.body.reason, 'revoked');
      await page.locator('#feed li', { hasText: 'revoked' }).first().waitFor();

      // Revoke all, after a confirmation.
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Revoke all' }).click();
      await page.getByText('Revoked 1 session of ada.').waitFor();
      assert.equal(await rows(page).count(), 0);
      assert.equal(await focusedId(), 'sessions-status', 'no button left: focus on what happened');
      const listed = await api(origin, 'GET', '/v1/sessions?subject=ada');
      assert.deepEqual(
        listed.body.sessions.map((session: { reason?: string }) => session.reason),
        ['revoked', 'revoked'],
      );

      // Signing out forgets the key; so does a reload.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('textbox', { name: 'API key' }).waitFor();
      await page.reload();
      await page.getByRole('textbox', { name: 'API key' }).waitFor();
      assert.equal(await page.locator('#dashboard').isHidden(), true);
      assert.deepEqual(problems, []);
      assert.deepEqual(refused, ['401 /v1/stats'], 'only the wrong key was refused');
      await page.close();
    });

    test('fits a phone: the sections stack, and a wide table scrolls inside its card, not the page', async () => {
      const page = await browser.newPage({ viewport: { width: 360, height: 800 } });
      await page.goto(`${origin}/dashboard`);
      await signIn(page, API_KEY);
      await page.getByRole('heading', { name: 'Live sessions' }).waitFor();
      const created = await api(origin, 'POST', '/v1/sessions', { body: { subject: 'grace' } });
      assert.equal(created.status, 201);
      await page.getByRole('textbox', { name: 'Subject', exact: true }).fill('grace');
      await page.getByRole('button', { name: 'Show sessions' }).click();
      await rows(page).first().waitFor();
      // No helper function inside: the test's compiler would name it with a function the page lacks.
      const layout = await page.evaluate(() => ({
        pageWidth: document.documentElement.scrollWidth,
        counts: document.getElementById('counts-section')?.getBoundingClientRect().toJSON(),
        feed: document.getElementById('feed-section')?.getBoundingClientRect().toJSON(),
        sessions: document.getElementById('sessions-section')?.getBoundingClientRect().toJSON(),
      }));
      assert.ok(layout.pageWidth <= 360, `the page is ${layout.pageWidth} px wide`);
      assert.ok((layout.feed?.top ?? 0) >= (layout.counts?.bottom ?? 0), 'the feed is below the counts');
      assert.ok((layout.sessions?.right ?? 999) <= 360, 'the sessions card fits the screen');
      await page.close();
    });
  });
});
