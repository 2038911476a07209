import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStore, resolveConfig } from '@vigil/core';
import Fastify from 'fastify';
import {
  localChecker,
  remoteChecker,
  type SessionChecker,
  vigilExpress,
  vigilFastify,
} from '../src/index.js';

const checker: SessionChecker = { check: async () => Promise.reject(new Error('not called')) };

/** Asserts a `TypeError` whose message names the factory and the option. */
function refuses(call: () => unknown, factory: string, option: RegExp): void {
  assert.throws(call, (error: unknown) => {
    assert.ok(error instanceof TypeError, `expected TypeError, got ${String(error)}`);
    assert.ok(error.message.startsWith(`${factory}: `), error.message);
    assert.match(error.message, option);
    return true;
  });
}

describe('options are checked when the factory runs', () => {
  test('vigilExpress', () => {
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /options are required/],
      [{}, /checker/],
      [{ checker: { check: 'no' } }, /checker/],
      [{ checker, passive: true }, /passive/],
      [{ checker, passivePaths: '/api/**' }, /passivePaths/],
      [{ checker, passivePaths: ['api/poll'] }, /passivePaths\.0/],
      [{ checker, passivePaths: ['/a/**/b/**'] }, /passivePaths\.0/],
      [{ checker, passivePaths: ['/poll?x=1'] }, /passivePaths\.0/],
      [{ checker, cookieName: 'bad name' }, /cookieName/],
      [{ checker, cookieName: 42 }, /cookieName/],
      [{ checker, passivePath: ['/x'] }, /unknown option 'passivePath'/],
    ];
    for (const [options, option] of bad) {
      refuses(() => vigilExpress(options as never), 'vigilExpress', option);
    }
    const middleware = vigilExpress({
      checker,
      passivePaths: ['/api/poll/**', '/api/*/count'],
      cookieName: '__Host-vigil',
    });
    assert.equal(middleware.name, 'vigilSession');
  });

  test('vigilFastify: bad options fail the boot with a TypeError; Fastify’s own register options are fine', async () => {
    const app = Fastify();
    app.register(vigilFastify, { checker, cookieName: 'a b' });
    await assert.rejects(
      async () => {
        await app.ready();
      },
      (error: unknown) => error instanceof TypeError && /cookieName/.test(error.message),
    );
    const ok = Fastify();
    await ok.register(vigilFastify, { checker, prefix: '/api', logLevel: 'warn' });
    await ok.ready();
    await ok.close();
  });

  test('localChecker', () => {
    const store = new MemoryStore();
    const config = resolveConfig({});
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /options are required/],
      [{ config }, /options\.store/],
      [{ store: {}, config }, /options\.store/],
      [{ store }, /options\.config/],
      [
        { store, config: { policies: { default: { idleTimeout: 'soon' } } } },
        /policies\.default\.idleTimeout/,
      ],
      [{ store, config, clock: Date }, /options\.clock/],
      [{ store, config, events: {} }, /options\.events/],
      [{ store, config, policyCacheSize: -1 }, /policyCacheSize/],
      [{ store, config, storeTimeout: 5 }, /unknown option 'storeTimeout'/],
    ];
    for (const [options, option] of bad)
      refuses(() => localChecker(options as never), 'localChecker', option);
    assert.equal(typeof localChecker({ store, config: { storeTimeout: '1s' } }).check, 'function');
  });

  test('remoteChecker', () => {
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /options are required/],
      [{}, /options\.url/],
      [{ url: 'vigil.internal:8080' }, /options\.url/],
      [{ url: 'ftp://vigil.internal' }, /options\.url/],
      [{ url: 'http://vigil.internal/?x=1' }, /options\.url/],
      [{ url: 'http://user:secret@vigil.internal' }, /credentials/],
      [{ url: 'http://vigil.internal', timeoutMs: 0 }, /timeoutMs/],
      [{ url: 'http://vigil.internal', timeoutMs: 1.5 }, /timeoutMs/],
      [{ url: 'http://vigil.internal', timeoutMs: '2s' }, /timeoutMs/],
      [{ url: 'http://vigil.internal', retryAfterMs: -1 }, /retryAfterMs/],
      [{ url: 'http://vigil.internal', keepAlive: true }, /unknown option 'keepAlive'/],
    ];
    for (const [options, option] of bad)
      refuses(() => remoteChecker(options as never), 'remoteChecker', option);
    assert.doesNotMatch(
      (() => {
        try {
          remoteChecker({ url: 'http://user:secret@vigil.internal' });
        } catch (error) {
          return (error as Error).message;
        }
        return '';
      })(),
      /secret/,
    );
  });
});
