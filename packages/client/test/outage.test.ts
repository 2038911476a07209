import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { MemoryStore, type Store, StoreUnavailableError } from '@vigil/core';
import type { Browser } from 'playwright-core';
import { bundle, eventsOf, hostUrl, launchChromium, sleep, startVigil } from './support/browser.js';
import { hostPages } from './support/pages.js';

let browser: Browser;
before(async () => {
  [browser] = await Promise.all([launchChromium(), bundle('host.ts')]);
});
after(() => browser?.close());

/** A memory store that fails every call while `down` is set, as an unreachable database would. */
function flakyStore(): { store: Store; setDown(down: boolean): void } {
  const inner = new MemoryStore();
  let down = false;
  const store = new Proxy(inner, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close') return value;
      return (...args: unknown[]) =>
        down ? Promise.reject(new StoreUnavailableError('test outage')) : value.apply(target, args);
    },
  });
  return {
    store,
    setDown: (value) => {
      down = value;
    },
  };
}

it('backs off while the server answers 503, recovers, and logs nobody out', async (t) => {
  const { store, setDown } = flakyStore();
  const vigil = await startVigil({
    pages: hostPages,
    store,
    policy: { idleTimeout: '8s', absoluteTimeout: '1h', warnBefore: '1s' },
  });
  t.after(() => vigil.close());
  const token = await vigil.createSession();
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(
    hostUrl(vigil.origin, 'a', {
      token,
      retry: { retries: 8, baseMs: 200, maxMs: 2000 },
    }),
  );
  const box = page.getByRole('textbox', { name: 'Notes' });
  const typeFor = async (ms: number) => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(150)) await box.press('k');
  };

  await typeFor(1000);
  setDown(true);
  const downAt = Date.now();
  await typeFor(3500);
  setDown(false);
  const upAt = Date.now();
  await typeFor(3000);

  const during = vigil.requests.filter(
    (r) => r.path === '/v1/heartbeat' && r.at >= downAt && r.at <= upAt + 50,
  );
  assert.ok(during.length >= 2, `${during.length} attempts during the outage`);
  assert.ok(during.every((r) => r.statusCode === 503 || r.at > upAt));
  const gaps = during.slice(1).map((r, i) => r.at - (during[i]?.at ?? 0));
  assert.ok(
    gaps.every((gap) => gap >= 900),
    `Retry-After (1 s) honoured between attempts: ${gaps.join(', ')}`,
  );
  assert.ok(during.length <= 5, 'backed off rather than hammering');
  const recovered = vigil.heartbeats('active').filter((r) => r.at > upAt);
  assert.ok(recovered.length >= 1, 'heartbeats resumed');
  const types = (await eventsOf(page)).map((e) => e.type);
  assert.ok(!types.includes('ended') && !types.includes('heartbeatsDisabled'), types.join(', '));
  const answer = await vigil.read(token);
  assert.equal(answer.status, 200);
  assert.ok(Date.parse(String(answer.body.idleExpiresAt)) > upAt + 3000);
  assert.equal(await page.locator('#state').textContent(), 'active');
});
