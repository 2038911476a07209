import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedStore } from './bounded-store.js';
import { SessionEndedError } from './errors.js';
import { MemoryStore } from './memory-store.js';
import type { Store } from './store.js';

function storeWith(overrides: Partial<Store>): Store {
  const base = new MemoryStore();
  return Object.assign(Object.create(base), overrides) as Store;
}

describe('boundedStore', () => {
  it('turns a hung call into store_unavailable within the timeout', async () => {
    const hung = storeWith({ ping: () => new Promise(() => {}) });
    const started = Date.now();
    await assert.rejects(boundedStore(hung, { timeoutMs: 30, retryAfterMs: 2000 }).ping(), {
      code: 'store_unavailable',
      retryAfterMs: 2000,
    });
    assert.ok(Date.now() - started < 1000);
  });

  it('turns any store failure into store_unavailable, keeping the cause', async () => {
    const cause = new Error('ECONNREFUSED');
    const failing = storeWith({
      get: async () => {
        throw cause;
      },
    });
    await assert.rejects(boundedStore(failing, { timeoutMs: 100 }).get('x', 0), (error: Error) => {
      assert.equal((error as { code?: string }).code, 'store_unavailable');
      assert.equal(error.cause, cause);
      return true;
    });
    const throwsSync = storeWith({
      ping: () => {
        throw cause;
      },
    });
    await assert.rejects(boundedStore(throwsSync, { timeoutMs: 100 }).ping(), { code: 'store_unavailable' });
  });

  it('passes answers and Vigil errors through unchanged', async () => {
    const ended = new SessionEndedError('revoked', 0);
    const store = storeWith({
      get: async () => {
        throw ended;
      },
    });
    await assert.rejects(boundedStore(store, { timeoutMs: 100 }).get('x', 0), ended);
    assert.deepEqual(await boundedStore(new MemoryStore(), { timeoutMs: 100 }).get('x', 0), {
      kind: 'unknown',
    });
  });

  it('bounds every call on its own: late starters, several hung calls, answered calls', async () => {
    let answered = 0;
    const store = storeWith({
      ping: () => new Promise(() => {}),
      get: async () => {
        answered++;
        return { kind: 'unknown' };
      },
    });
    const bounded = boundedStore(store, { timeoutMs: 30 });
    // A hung call started after an answered one still gets its full bound, and the answered one is
    // never rejected afterwards.
    assert.deepEqual(await bounded.get('x', 0), { kind: 'unknown' });
    await new Promise((resolve) => setTimeout(resolve, 15));
    const order: string[] = [];
    const first = bounded.ping().catch((error: { code?: string }) => order.push(`first ${error.code}`));
    await new Promise((resolve) => setTimeout(resolve, 10));
    const second = bounded.ping().catch((error: { code?: string }) => order.push(`second ${error.code}`));
    assert.deepEqual(await bounded.get('y', 0), { kind: 'unknown' });
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first store_unavailable', 'second store_unavailable']);
    assert.equal(answered, 2);
    // Once nothing is pending, a new hung call is bounded too.
    await assert.rejects(bounded.ping(), { code: 'store_unavailable' });
  });

  it('names the call that took too long', async () => {
    const hung = storeWith({ touch: () => new Promise(() => {}) });
    await assert.rejects(
      boundedStore(hung, { timeoutMs: 20, label: 'redis' }).touch('x', {} as never),
      (error: Error) => {
        assert.equal((error as { code?: string }).code, 'store_unavailable');
        assert.match(error.message, /^redis: touch took longer than storeTimeout \(20 ms\)$/);
        return true;
      },
    );
  });
});
