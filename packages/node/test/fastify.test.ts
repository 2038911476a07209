import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { vigilFastify } from '../src/index.js';
import { describeEnforcement } from './behaviours.js';
import { bearer, fastifyFramework, makeBackend } from './helpers.js';

describeEnforcement(fastifyFramework, 'local');

describe('vigilFastify in Fastify scopes', () => {
  test('registered at the root it guards every route; request.vigil is decorated once with null', async () => {
    const backend = await makeBackend('local');
    const app = Fastify();
    let before: unknown = 'unset';
    app.addHook('onRequest', async (request) => {
      before = request.vigil;
    });
    await app.register(vigilFastify, { checker: backend.checker });
    // A second registration in a child scope reuses the decorator instead of failing.
    await app.register(async (child) => {
      await child.register(vigilFastify, { checker: backend.checker, passivePaths: ['/child/poll'] });
      child.get('/child/poll', async (request) => request.vigil);
    });
    app.get('/me', async (request) => request.vigil);
    try {
      const { token } = await backend.createSession();
      const me = await app.inject({ url: '/me', headers: bearer(token) });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().subject, 'alice');
      assert.equal(before, null);
      const anonymous = await app.inject({ url: '/me' });
      assert.equal(anonymous.statusCode, 401);
      assert.equal(anonymous.json().error.code, 'unauthenticated');
      const missing = await app.inject({ url: '/nowhere' });
      assert.equal(missing.statusCode, 401, 'unknown routes are guarded too');
      backend.clock.advance(5000);
      assert.equal((await app.inject({ url: '/child/poll', headers: bearer(token) })).statusCode, 200);
    } finally {
      await app.close();
      await backend.close();
    }
  });
});
