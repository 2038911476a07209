import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type ConfigInput, ERROR_CODES } from '@vigil/core';
import type { RouteOptions } from 'fastify';
import { makeApp, TEST_CONFIG } from './helpers.js';

/**
 * The document is generated from the routes, so these tests hold it to the routes themselves: the
 * same operations both ways, whatever routes are added later, and a document that validates.
 */

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document, checked field by field.
type Document = any;

/** The pages that serve the document and the operators' UI: not part of the API they describe. */
const UI_ROUTES = /^\/(openapi\.json$|docs($|\/)|dashboard($|\/))/;

/** A Fastify URL as an OpenAPI path: `:id` → `{id}`, the wildcard `*` → `{*}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{*}');
}

async function documentOf(config: ConfigInput = TEST_CONFIG) {
  const routes: RouteOptions[] = [];
  const t = await makeApp({ config, onRoute: (route) => routes.push(route) });
  const response = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const document: Document = response.json();
  await t.app.close();
  return { document, routes };
}

/** Every operation of the document, as `METHOD /path`. */
function documented(document: Document): Set<string> {
  const found = new Set<string>();
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, unknown>>)) {
    for (const method of METHODS)
      if (item[method] !== undefined) found.add(`${method.toUpperCase()} ${path}`);
  }
  return found;
}

describe('the OpenAPI document (GET /openapi.json)', () => {
  test('is a valid OpenAPI 3.1 document', async () => {
    const { document } = await documentOf();
    const result = await new Validator().validate(structuredClone(document));
    assert.deepEqual(result.errors, undefined, JSON.stringify(result.errors, null, 2));
    assert.equal(result.valid, true);
    assert.equal(document.openapi, '3.1.0');
  });

  test('describes exactly the routes the app serves, with the same methods', async () => {
    const { document, routes } = await documentOf();
    const served = new Set<string>();
    const hidden = new Set<string>();
    for (const route of routes) {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        const operation = `${method} ${openApiPath(route.url)}`;
        if (route.schema?.hide === true) hidden.add(route.url);
        else served.add(operation);
      }
    }
    // Fastify adds a HEAD route for each GET on its own; the document leaves those out (a HEAD is
    // its GET without a body). A HEAD a route asks for itself (forward auth) stays in.
    const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
    for (const route of routes) {
      if (route.method === 'HEAD' && gets.has(route.url)) served.delete(`HEAD ${openApiPath(route.url)}`);
    }

    assert.deepEqual([...documented(document)].sort(), [...served].sort());
    // Only the UI is hidden: an API route cannot drop out of the document by accident.
    for (const url of hidden) assert.match(url, UI_ROUTES, `${url} is hidden from the document`);
    assert.ok(served.has('GET /v1/stats') && served.has('GET /v1/admin/events'));
    assert.ok(served.has('DELETE /v1/sessions/{id}') && served.has('POST /v1/heartbeat'));
  });

  test('says which credential each route takes', async () => {
    const { document } = await documentOf();
    const security = (method: string, path: string) => document.paths[path][method].security;
    for (const [method, path] of [
      ['post', '/v1/sessions'],
      ['get', '/v1/sessions'],
      ['delete', '/v1/sessions/{id}'],
      ['delete', '/v1/subjects/{subject}/sessions'],
      ['get', '/v1/stats'],
      ['get', '/v1/admin/events'],
    ] as const) {
      assert.deepEqual(security(method, path), [{ apiKey: [] }], `${method} ${path}`);
    }
    for (const [method, path] of [
      ['post', '/v1/heartbeat'],
      ['get', '/v1/session'],
      ['delete', '/v1/session'],
      ['get', '/v1/events'],
      ['get', '/v1/authorize'],
    ] as const) {
      assert.deepEqual(security(method, path), [{ sessionToken: [] }], `${method} ${path}`);
    }
    for (const path of ['/healthz', '/readyz', '/metrics']) assert.equal(security('get', path), undefined);
    const schemes = document.components.securitySchemes;
    assert.deepEqual(Object.keys(schemes).sort(), ['apiKey', 'sessionCookie', 'sessionToken']);
    assert.equal(schemes.apiKey.scheme, 'bearer');
  });

  test('in cookie mode, the browser routes take the cookie too, under its configured name', async () => {
    const { document } = await documentOf({
      ...TEST_CONFIG,
      cookie: { enabled: true, name: 'sid', secure: false },
    });
    assert.deepEqual(document.paths['/v1/heartbeat'].post.security, [
      { sessionToken: [] },
      { sessionCookie: [] },
    ]);
    assert.deepEqual(document.paths['/v1/session/cookie'].post.security, [
      { sessionToken: [] },
      { sessionCookie: [] },
    ]);
    assert.deepEqual(document.components.securitySchemes.sessionCookie, {
      type: 'apiKey',
      in: 'cookie',
      name: 'sid',
      description: document.components.securitySchemes.sessionCookie.description,
    });
  });

  test('names every error code, gives every operation a summary, and shares the session shapes', async () => {
    const { document } = await documentOf();
    const { schemas } = document.components;
    assert.deepEqual(schemas.error.properties.error.properties.code.enum, ERROR_CODES);
    assert.ok(schemas.status && schemas.adminSession, 'shared schemas keep their names');
    const created = document.paths['/v1/sessions'].post.responses['201'].content['application/json'].schema;
    assert.deepEqual(created.properties.session, { $ref: '#/components/schemas/adminSession' });
    for (const operation of ['GET /v1/stats', 'GET /v1/admin/events', 'POST /v1/sessions', 'GET /healthz']) {
      const [method = '', path = ''] = operation.split(' ');
      assert.ok(document.paths[path][method.toLowerCase()].summary, `${operation} has a summary`);
    }
    // Streams are not JSON, their errors are.
    const events = document.paths['/v1/admin/events'].get.responses;
    assert.deepEqual(Object.keys(events['200'].content), ['text/event-stream']);
    assert.deepEqual(Object.keys(events['4XX'].content), ['application/json']);
    // A logout may have no body at all.
    assert.equal(document.paths['/v1/session'].delete.requestBody.required, false);
    assert.equal(document.paths['/v1/sessions'].post.requestBody.required, true);
  });

  test('the docs page is served at /docs and reads the same document', async () => {
    const t = await makeApp();
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /swagger-ui/i);
    const initializer = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(initializer.statusCode, 200);
    const json = await t.app.inject({ method: 'GET', url: '/docs/json' });
    const direct = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.deepEqual(json.json(), direct.json());
    await t.app.close();
  });
});
