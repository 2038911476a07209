import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { VigilError } from '@vigil/core';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

/**
 * The operators' page (`GET /dashboard`) and its files. The page itself is public and holds no data:
 * it asks for the API key and sends it, from memory, with each of its calls to the API.
 *
 * Where the files are: the page and its stylesheet sit in `src/dashboard/`; its scripts are that
 * folder's TypeScript, compiled by `tsc -b` (the `src/dashboard` project) to native ES modules in
 * `dist/dashboard/`, loaded by the browser as they are (no bundler). Both paths resolve the same from
 * `src/routes/` and `dist/routes/`. uPlot (the chart) is served from its package.
 */

export const DASHBOARD_PATH = '/dashboard';

const packageRoot = new URL('../../', import.meta.url);
const pageDir = new URL('src/dashboard/', packageRoot);
const scriptDir = new URL('dist/dashboard/', packageRoot);
const SCRIPT_NAME = /^[a-z][a-z0-9-]*\.js$/;

/** The page may load only its own files and call only its own origin; no one may frame it. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
} as const;

const TYPES = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' } as const;

/** Files read once, on first use (a missing one is not remembered, so a later build is picked up). */
const cache = new Map<string, string>();
async function cached(url: URL): Promise<string | null> {
  const hit = cache.get(url.href);
  if (hit !== undefined) return hit;
  try {
    const text = await readFile(url, 'utf8');
    cache.set(url.href, text);
    return text;
  } catch {
    return null;
  }
}

function uplotFile(name: 'uPlot.iife.min.js' | 'uPlot.min.css'): URL | null {
  try {
    return new URL(`file://${createRequire(import.meta.url).resolve(`uplot/dist/${name}`)}`);
  } catch {
    return null;
  }
}

async function sendFile(reply: FastifyReply, url: URL | null, type: string) {
  const text = url === null ? null : await cached(url);
  if (text === null) throw new VigilError('not_found');
  return reply.headers(PAGE_HEADERS).type(type).send(text);
}

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const hidden = { schema: { hide: true }, exposeHeadRoute: false } as const;

  app.get(DASHBOARD_PATH, hidden, async (_request, reply) => {
    const [page, main] = await Promise.all([
      cached(new URL('index.html', pageDir)),
      cached(new URL('main.js', scriptDir)),
    ]);
    if (page === null || main === null) {
      throw new VigilError(
        'internal_error',
        'The dashboard is not built: run `npx tsc -b` (or `npm run build`) at the repository root.',
      );
    }
    return reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(page);
  });

  app.get<{ Params: { file: string } }>(`${DASHBOARD_PATH}/:file`, hidden, async (request, reply) => {
    const { file } = request.params;
    if (file === 'dashboard.css') return sendFile(reply, new URL(file, pageDir), TYPES.css);
    if (file === 'uplot.js') return sendFile(reply, uplotFile('uPlot.iife.min.js'), TYPES.js);
    if (file === 'uplot.css') return sendFile(reply, uplotFile('uPlot.min.css'), TYPES.css);
    // Only plain names: nothing can climb out of the folder.
    if (SCRIPT_NAME.test(file)) return sendFile(reply, new URL(file, scriptDir), TYPES.js);
    return sendFile(reply, null, TYPES.js);
  });
};
