import { readFile } from 'node:fs/promises';
import type { Clock, Store, VigilConfig } from '@vigil/core';
import { buildApp } from '@vigil/server';
import Fastify, { type FastifyInstance } from 'fastify';
import { bundlePage, publicFile } from './bundle.js';

export interface DemoOptions {
  config: VigilConfig;
  store: Store;
  apiKey: string;
  host?: string;
  /** The host app's port (Vigil's API is served by the same process and origin); 0 for any. */
  port?: number;
  /** The policy the demo's sessions get: a short one, so a visitor sees the warning within a minute. */
  policy?: string;
  clock?: Clock;
  logger?: boolean | object;
}

export interface RunningDemo {
  /** The host app, e.g. `http://127.0.0.1:8080/`. */
  url: string;
  /** The embedded "third-party tool", on another origin (another port). */
  toolOrigin: string;
  vigil: FastifyInstance;
  close(): Promise<void>;
}

/**
 * Starts the demo: Vigil's API plus a small host application on one origin, and an embedded
 * third-party tool on another. The host's backend creates sessions through Vigil's API with the API
 * key, exactly as a real application backend would; the browser only ever holds the session token.
 */
export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const host = options.host ?? '127.0.0.1';
  const policy = options.policy ?? 'demo';
  const [appJs, toolJs, indexHtml, toolHtml, css] = await Promise.all([
    bundlePage('app.ts'),
    bundlePage('tool.ts'),
    readFile(publicFile('index.html'), 'utf8'),
    readFile(publicFile('tool.html'), 'utf8'),
    readFile(publicFile('style.css'), 'utf8'),
  ]);

  // Static files only, so closing may cut every connection: a browser's spare, never-used one would
  // otherwise hold close() open (Node's server.close() waits for it).
  const tool = Fastify({ logger: false, forceCloseConnections: true });
  tool.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(toolHtml));
  tool.get('/tool.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(toolJs));
  tool.get('/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(css));
  await tool.listen({ host, port: 0 });
  const toolOrigin = `http://${host}:${portOf(tool)}`;

  const vigil = await buildApp({
    config: options.config,
    store: options.store,
    apiKey: options.apiKey,
    ...(options.clock && { clock: options.clock }),
    ...(options.logger !== undefined && { logger: options.logger }),
  });
  const page = indexHtml.replaceAll('%TOOL_ORIGIN%', toolOrigin);
  vigil.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
  vigil.get('/app.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(appJs));
  vigil.get('/style.css', async (_request, reply) => reply.type('text/css; charset=utf-8').send(css));
  vigil.post<{ Body: { name?: unknown } }>(
    '/demo/sign-in',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    },
    async (request, reply) => {
      // The demo backend signs the user in with no password (it is a demo) and asks Vigil for a session.
      const created = await vigil.inject({
        method: 'POST',
        url: '/v1/sessions',
        headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
        payload: { subject: String(request.body.name).trim() || 'guest', policy },
      });
      return reply.code(created.statusCode).type('application/json').send(created.body);
    },
  );
  await vigil.listen({ host, port: options.port ?? 0 });
  const url = `http://${host}:${portOf(vigil)}/`;

  return {
    url,
    toolOrigin,
    vigil,
    async close() {
      await Promise.all([vigil.close(), tool.close()]);
    },
  };
}

function portOf(app: FastifyInstance): number {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a TCP port');
  return address.port;
}
