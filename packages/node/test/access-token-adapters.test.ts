import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import {
  type AccessTokenVerifier,
  createAccessTokenVerifier,
  vigilAccessTokenExpress,
  vigilAccessTokenFastify,
} from '../src/index.js';
import { type Answer, API_KEY, bearer, errorOf, get, portOf } from './helpers.js';
import { startTokenVigil, type TokenVigil } from './token-vigil.js';

interface GuardedApp {
  url: string;
  close(): Promise<void>;
}

/** `/api/me` is guarded and answers the claims; `/public` is not. Errors of the app answer 500. */
const frameworks: Array<{ name: string; start(verifier: AccessTokenVerifier): Promise<GuardedApp> }> = [
  {
    name: 'express',
    async start(verifier) {
      const app = express();
      app.get('/public', (req, res) => {
        res.json({ claims: req.vigilClaims ?? null });
      });
      app.use('/api', vigilAccessTokenExpress({ verifier }));
      app.get('/api/me', (req, res) => {
        res.json({ claims: req.vigilClaims });
      });
      app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        res.status(500).json({ handledBy: 'app', message: error.message });
      });
      const server = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
      return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    },
  },
  {
    name: 'fastify',
    async start(verifier) {
      const app = Fastify();
      app.setErrorHandler((error: Error, _request, reply) =>
        reply.code(500).send({ handledBy: 'app', message: error.message }),
      );
      app.get('/public', async (request) => ({ claims: request.vigilClaims ?? null }));
      await app.register(
        async function guarded(scope) {
          await scope.register(vigilAccessTokenFastify, { verifier });
          scope.get('/me', async (request) => ({ claims: request.vigilClaims }));
        },
        { prefix: '/api' },
      );
      await app.listen({ host: '127.0.0.1', port: 0 });
      return { url: `http://127.0.0.1:${portOf(app)}`, close: () => app.close() };
    },
  },
];

function assertRefusal(answer: Answer, status: number, code: string): { code: string; reason?: string } {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  const error = errorOf(answer);
  assert.equal(error.code, code);
  assert.equal(answer.headers.get('cache-control'), 'no-store');
  return error;
}

for (const framework of frameworks) {
  describe(`${framework.name}: access tokens checked in the app`, () => {
    let vigil: TokenVigil;
    let app: GuardedApp;
    before(async () => {
      vigil = await startTokenVigil();
      const verifier = createAccessTokenVerifier({
        vigilUrl: vigil.url,
        clock: vigil.clock,
        revocation: { apiKey: API_KEY, cacheMs: 0 },
      });
      app = await framework.start(verifier);
    });
    after(async () => {
      await app.close();
      await vigil.close();
    });

    test('a valid access token passes, with its claims on the request', async () => {
      const sessionId = await vigil.createSession({ subject: 'alice' });
      const { accessToken } = await vigil.issue(sessionId);
      const answer = await get(`${app.url}/api/me`, bearer(accessToken));
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const { claims } = answer.body as { claims: Record<string, unknown> };
      assert.equal(claims.sub, 'alice');
      assert.equal(claims.sid, sessionId);
      assert.equal(claims.policy, 'default');
      // Unguarded routes see no claims.
      const open = await get(`${app.url}/public`, bearer(accessToken));
      assert.deepEqual(open.body, { claims: null });
    });

    test('no token: 401 unauthenticated with a plain Bearer challenge', async () => {
      const answer = await get(`${app.url}/api/me`);
      assertRefusal(answer, 401, 'unauthenticated');
      assert.equal(answer.headers.get('www-authenticate'), 'Bearer realm="vigil"');
      assertRefusal(await get(`${app.url}/api/me`, { authorization: 'Basic YTpi' }), 401, 'unauthenticated');
    });

    test('an invalid or expired token: 401 unauthenticated, error="invalid_token"', async () => {
      const garbage = await get(`${app.url}/api/me`, bearer('a.b.c'));
      assertRefusal(garbage, 401, 'unauthenticated');
      assert.equal(
        garbage.headers.get('www-authenticate'),
        'Bearer realm="vigil", error="invalid_token", error_description="token_invalid"',
      );
      assert.doesNotMatch(JSON.stringify(garbage.body), /a\.b\.c/);

      const { accessToken } = await vigil.issue(await vigil.createSession({ subject: 'bob' }));
      vigil.clock.advance(2 * 60_000);
      const expired = await get(`${app.url}/api/me`, bearer(accessToken));
      assertRefusal(expired, 401, 'unauthenticated');
      assert.match(expired.headers.get('www-authenticate') ?? '', /error_description="token_expired"/);
    });

    test('a revoked session (revocation check on): 401 session_ended with the reason', async () => {
      const sessionId = await vigil.createSession({ subject: 'carol' });
      const { accessToken } = await vigil.issue(sessionId);
      assert.equal((await get(`${app.url}/api/me`, bearer(accessToken))).status, 200);
      await vigil.revoke(sessionId);
      const answer = await get(`${app.url}/api/me`, bearer(accessToken));
      const error = assertRefusal(answer, 401, 'session_ended') as { reason?: string; endedAt?: string };
      assert.equal(error.reason, 'revoked');
      assert.equal(error.endedAt, new Date(vigil.clock.now()).toISOString());
    });

    test('the store behind Vigil down: 503 store_unavailable with Retry-After, never 401', async () => {
      const { accessToken } = await vigil.issue(await vigil.createSession({ subject: 'dave' }));
      vigil.store.mode = 'hang';
      try {
        const answer = await get(`${app.url}/api/me`, bearer(accessToken));
        assertRefusal(answer, 503, 'store_unavailable');
        assert.match(answer.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
        assert.equal(answer.headers.get('www-authenticate'), null);
      } finally {
        vigil.store.mode = 'ok';
      }
      assert.equal((await get(`${app.url}/api/me`, bearer(accessToken))).status, 200);
    });
  });
}

describe('access-token adapters: Vigil unreachable, odd verifiers, bad options', () => {
  test('Vigil unreachable before the keys were ever fetched: 503 with Retry-After: 1', async () => {
    const verifier = createAccessTokenVerifier({ vigilUrl: 'http://127.0.0.1:9' });
    const vigil = await startTokenVigil();
    try {
      const { accessToken } = await vigil.issue(await vigil.createSession());
      for (const framework of frameworks) {
        const app = await framework.start(verifier);
        try {
          const answer = await get(`${app.url}/api/me`, bearer(accessToken));
          assertRefusal(answer, 503, 'store_unavailable');
          assert.equal(answer.headers.get('retry-after'), '1', framework.name);
        } finally {
          await app.close();
        }
      }
    } finally {
      await vigil.close();
    }
  });

  test("a verifier's unexpected failure goes to the app's error handling", async () => {
    const broken: AccessTokenVerifier = { verify: async () => Promise.reject(new Error('verifier bug')) };
    for (const framework of frameworks) {
      const app = await framework.start(broken);
      try {
        const answer = await get(`${app.url}/api/me`, bearer('x.y.z'));
        assert.equal(answer.status, 500, framework.name);
        assert.deepEqual(answer.body, { handledBy: 'app', message: 'verifier bug' });
      } finally {
        await app.close();
      }
    }
  });

  test('bad options throw at once (Express) or fail the registration (Fastify)', async () => {
    for (const options of [undefined, {}, { verifier: {} }, { verifier: { verify: 1 } }]) {
      assert.throws(
        () => vigilAccessTokenExpress(options as never),
        /^TypeError: vigilAccessTokenExpress: options/,
      );
    }
    const verifier = createAccessTokenVerifier({ vigilUrl: 'http://127.0.0.1:9' });
    assert.throws(
      () => vigilAccessTokenExpress({ verifier, checker: {} } as never),
      /unknown option 'checker'/,
    );
    const app = Fastify();
    await assert.rejects(async () => {
      await app.register(vigilAccessTokenFastify, {} as never);
      await app.ready();
    }, /vigilAccessTokenFastify: options.verifier/);
    await app.close();
  });
});
