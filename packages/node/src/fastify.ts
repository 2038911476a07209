import { VigilError } from '@vigil/core';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { createEnforcer, type Enforce, errorReply, type VigilOptions } from './enforce.js';
import type { VigilSession } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The checked session (set by the `vigilFastify` plugin); null outside its scope. */
    vigil: VigilSession | null;
  }
}

export type VigilFastifyOptions = VigilOptions<FastifyRequest>;

/** Options Fastify itself adds to every `register` call; they are not ours to refuse. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];

/**
 * A Fastify plugin that lets a request through only while its session lives, with the session on
 * `request.vigil`; otherwise it answers `401`/`503` as the Vigil server does. It skips Fastify's
 * encapsulation (like `fastify-plugin`), so its `onRequest` hook guards the routes of the scope that
 * registers it — register it inside a scoped plugin to guard only that scope's routes.
 *
 *     await app.register(vigilFastify, { checker: remoteChecker({ url }) });
 */
function vigilFastifyPlugin(
  instance: FastifyInstance,
  options: VigilFastifyOptions,
  done: (error?: Error) => void,
): void {
  let enforce: Enforce<FastifyRequest>;
  try {
    enforce = createEnforcer<FastifyRequest>('vigilFastify', options, REGISTER_OPTIONS);
  } catch (error) {
    // Bad options fail the boot (`register`/`ready` rejects) instead of escaping as an uncaught throw.
    done(error as Error);
    return;
  }
  // Decorate once, with null, so every request object keeps one shape (and a second scope reuses it).
  if (!instance.hasRequestDecorator('vigil')) instance.decorateRequest('vigil', null);
  instance.addHook('onRequest', async function vigilSession(request: FastifyRequest, reply: FastifyReply) {
    try {
      request.vigil = await enforce(request, request.headers, request.url);
    } catch (error) {
      if (!(error instanceof VigilError)) throw error;
      const answer = errorReply(error);
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    }
  });
  done();
}

Object.assign(vigilFastifyPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@vigil/node',
  [Symbol.for('plugin-meta')]: { name: '@vigil/node', fastify: '5.x' },
});

export const vigilFastify: FastifyPluginCallback<VigilFastifyOptions> = vigilFastifyPlugin;
