import { VigilError } from '@vigil/core';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokenClaims } from './access-token.js';
import { AccessTokenError, accessTokenReply } from './access-token-error.js';
import {
  type AccessTokenGuardOptions,
  createAccessTokenGuard,
  type GuardRequest,
} from './access-token-guard.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access token's claims (set by `vigilAccessTokenFastify`); null outside its scope. */
    vigilClaims: AccessTokenClaims | null;
  }
}

/** Options Fastify itself adds to every `register` call; they are not ours to refuse. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

/**
 * A Fastify plugin that lets a request through only with a valid Vigil access token
 * (`Authorization: Bearer`), its claims on `request.vigilClaims`; otherwise it answers `401`/`503`
 * as the Vigil server does. Like `vigilFastify` it skips encapsulation, so its `onRequest` hook
 * guards the scope that registers it — register it inside a scoped plugin to guard only that scope.
 *
 *     await app.register(vigilAccessTokenFastify, { verifier: createAccessTokenVerifier({ vigilUrl }) });
 */
function vigilAccessTokenPlugin(
  instance: FastifyInstance,
  options: AccessTokenGuardOptions,
  done: (error?: Error) => void,
): void {
  let guard: GuardRequest;
  try {
    guard = createAccessTokenGuard('vigilAccessTokenFastify', options, REGISTER_OPTIONS);
  } catch (error) {
    // Bad options fail the boot (`register`/`ready` rejects) instead of escaping as an uncaught throw.
    done(error as Error);
    return;
  }
  // Decorate once, with null, so every request object keeps one shape (and a second scope reuses it).
  if (!instance.hasRequestDecorator('vigilClaims')) instance.decorateRequest('vigilClaims', null);
  instance.addHook(
    'onRequest',
    async function vigilAccessToken(request: FastifyRequest, reply: FastifyReply) {
      try {
        request.vigilClaims = await guard(request.headers);
      } catch (error) {
        if (!(error instanceof AccessTokenError || error instanceof VigilError)) throw error;
        const answer = accessTokenReply(error);
        return reply.code(answer.status).headers(answer.headers).send(answer.body);
      }
    },
  );
  done();
}

Object.assign(vigilAccessTokenPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@vigil/node access tokens',
  [Symbol.for('plugin-meta')]: { name: '@vigil/node-access-tokens', fastify: '5.x' },
});

export const vigilAccessTokenFastify: FastifyPluginCallback<AccessTokenGuardOptions> = vigilAccessTokenPlugin;
