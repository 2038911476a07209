import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type CreateOptions,
  ERROR_TABLE,
  type ManualEndReason,
  MemoryStore,
  type SessionLookup,
  type SessionRecord,
  type TouchParams,
  type TouchResult,
} from '@vigil/core';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { API_KEY, makeApp, type TestApp } from './helpers.js';

/**
 * Hostile input at every endpoint: whatever arrives, the service answers (never a 5xx, never a
 * crash), every refusal has the error shape with a code from the table, no body carries a stack
 * trace or a file path, and a refused request leaves the store exactly as it was.
 */

const RUNS = { numRuns: 200 };
const LONG_POLICY = {
  policies: { default: { idleTimeout: '1h', absoluteTimeout: '8h' } },
  // Cookie mode and passive patterns on, so that hostile cookies, origins and forwarded URIs are tried.
  cookie: { enabled: true, allowedOrigins: ['https://app.example.com'] },
  passivePaths: ['/api/poll', '/api/notifications/*', '/static/**'],
};

type Method = 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH' | 'HEAD' | 'OPTIONS';
type Credential = 'key' | 'token' | 'none';

interface Endpoint {
  method: Method;
  path: (id: string) => string;
  credential: Credential;
  body?: 'create' | 'heartbeat' | 'logout';
}

const ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: () => '/v1/sessions', credential: 'key', body: 'create' },
  { method: 'GET', path: () => '/v1/sessions?subject=alice', credential: 'key' },
  { method: 'GET', path: (id) => `/v1/sessions/${id}`, credential: 'key' },
  { method: 'DELETE', path: (id) => `/v1/sessions/${id}`, credential: 'key' },
  { method: 'DELETE', path: () => '/v1/subjects/alice/sessions', credential: 'key' },
  { method: 'POST', path: () => '/v1/heartbeat', credential: 'token', body: 'heartbeat' },
  { method: 'GET', path: () => '/v1/session', credential: 'token' },
  { method: 'DELETE', path: () => '/v1/session', credential: 'token', body: 'logout' },
  { method: 'POST', path: () => '/v1/session/cookie', credential: 'token' },
  { method: 'GET', path: () => '/v1/authorize', credential: 'token' },
  { method: 'HEAD', path: () => '/v1/authorize', credential: 'token' },
  { method: 'POST', path: () => '/v1/authorize/api/poll?since=1', credential: 'token' },
  { method: 'GET', path: () => '/v1/events', credential: 'token' },
  { method: 'GET', path: () => '/healthz', credential: 'none' },
  { method: 'GET', path: () => '/readyz', credential: 'none' },
  { method: 'GET', path: () => '/metrics', credential: 'none' },
];

/**
 * Counts every change a request makes to the sessions, so that "a refused request leaves the store
 * as it was" costs one comparison instead of a read of every session.
 */
class ChangeCountingStore extends MemoryStore {
  changes = 0;

  override async create(record: SessionRecord, options: CreateOptions) {
    this.changes++;
    return super.create(record, options);
  }

  override async touch(id: string, params: TouchParams): Promise<TouchResult> {
    const before = JSON.stringify(await super.get(id, params.now));
    const result = await super.touch(id, params);
    if (JSON.stringify(await super.get(id, params.now)) !== before) this.changes++;
    return result;
  }

  override async get(id: string, now: number): Promise<SessionLookup> {
    const result = await super.get(id, now);
    if (result.kind === 'ended' && result.endedNow) this.changes++;
    return result;
  }

  override async end(id: string, reason: ManualEndReason, now: number): Promise<SessionLookup> {
    const result = await super.end(id, reason, now);
    if (result.kind === 'ended' && result.endedNow) this.changes++;
    return result;
  }

  override async endAllForSubject(subject: string, reason: ManualEndReason, now: number) {
    const ended = await super.endAllForSubject(subject, reason, now);
    this.changes += ended.length;
    return ended;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const STACK_OR_PATH = /\n\s+at |node:internal|\/work\/|\/home\/|file:\/\/|\.[cm]?[jt]s:\d+|node_modules/;

function checkAnswer(response: LightMyRequestResponse, method: string): void {
  const status = response.statusCode;
  assert.ok(status < 500, `5xx: ${status} ${response.body}`);
  assert.doesNotMatch(response.body, STACK_OR_PATH);
  if (status >= 400) {
    assert.match(String(response.headers['content-type']), /^application\/json/);
    if (method === 'HEAD') return;
    const body = JSON.parse(response.body);
    assert.deepEqual(Object.keys(body), ['error']);
    const { code, message } = body.error;
    assert.ok(code in ERROR_TABLE, `unknown code ${code}`);
    assert.equal(typeof message, 'string');
    const expected = ERROR_TABLE[code as keyof typeof ERROR_TABLE].status;
    assert.ok(status === expected || (status === 415 && code === 'bad_request'), `${status} with ${code}`);
  }
}

/** Header values a real client can send (Node refuses others before they leave). */
const headerValue = fc.oneof(
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength: 120,
  }),
  fc.string({
    unit: fc
      .integer({ min: 0x09, max: 0xff })
      .filter((c) => c === 9 || c >= 0x20)
      .map((c) => String.fromCharCode(c)),
    maxLength: 60,
  }),
);

const contentType = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'Application/JSON',
      'application/json; charset=latin1',
      'application/json;;',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/octet-stream',
      '*/*',
      '',
      ';',
      'application/json, text/plain',
    ),
  },
  { weight: 1, arbitrary: headerValue },
);

const nested = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

const hostileBody = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc.string({ maxLength: 200 }),
  fc
    .record(
      {
        subject: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue({ maxDepth: 2 })),
        policy: fc.oneof(fc.constantFrom('default', 'admin', 'nope', ''), fc.jsonValue({ maxDepth: 1 })),
        attributes: fc.oneof(
          fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        state: fc.oneof(fc.constantFrom('active', 'sleeping', 'ACTIVE', ''), fc.jsonValue({ maxDepth: 1 })),
        params: fc.oneof(
          fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        warning: fc.oneof(fc.constantFrom('extended', 'signed_out', 'x'), fc.jsonValue({ maxDepth: 1 })),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc.integer({ min: 1, max: 40_000 }).map((depth) => nested(depth, '[', ']', '')),
  fc
    .integer({ min: 1, max: 12_000 })
    .map(
      (depth) => `{"subject":"a","state":"active","attributes":${nested(depth, '{"a":', '}')},"params":{}}`,
    ),
  fc
    .integer({ min: 1, max: 12_000 })
    .map((depth) => `{"state":"sleeping","params":${nested(depth, '{"a":', '}')}}`),
  fc
    .constantFrom(65_000, 65_536, 65_537, 300_000)
    .map((size) => JSON.stringify({ subject: 'x'.repeat(size) })),
  fc.constantFrom(
    '{"__proto__":{"polluted":1},"subject":"a"}',
    '{"subject":"a","attributes":{"constructor":{"prototype":{"x":1}}}}',
    '{"state":"active","params":{"__proto__":null}}',
    '\u0000',
    '\uFEFF{"subject":"a"}',
    '{"subject":"a"}garbage',
    '1e400',
    '"\\ud800"',
  ),
);

/** A value of the wrong type, size or shape for any field. */
const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(null, [], {}, '', 0, -1, 1.5, true, 'x'.repeat(5000), { big: 'y'.repeat(4100) }),
);
/** Mostly a valid value, so that runs get past validation and reach the store; sometimes not. */
const often = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 4, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: hostileValue });
const jsonObject = fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 8 });

/** Near-valid bodies for the endpoints that take one: each field valid or not, present or not. */
const STRUCTURED = {
  create: fc.record(
    {
      subject: often(fc.string({ minLength: 1, maxLength: 256 })),
      policy: often(fc.constantFrom('default', 'nist-aal2', 'owasp-low-risk', 'nope')),
      attributes: often(jsonObject),
      unexpected: hostileValue,
    },
    { requiredKeys: [] },
  ),
  heartbeat: fc.record(
    {
      state: often(fc.constantFrom('active', 'sleeping')),
      params: often(jsonObject),
      warning: often(fc.constantFrom('extended', 'signed_out')),
      unexpected: hostileValue,
    },
    { requiredKeys: [] },
  ),
  logout: fc.oneof(
    fc.constant(null),
    fc.record({ warning: often(fc.constant('signed_out')) }, { requiredKeys: [] }),
  ),
};

const bodyFor = (endpoint: Endpoint): fc.Arbitrary<string> =>
  endpoint.body === undefined
    ? hostileBody
    : fc.oneof(
        { weight: 3, arbitrary: STRUCTURED[endpoint.body].map((value) => JSON.stringify(value)) },
        { weight: 2, arbitrary: hostileBody },
      );

describe('property: hostile input never breaks the service', () => {
  let t: TestApp;
  let store: ChangeCountingStore;
  before(async () => {
    store = new ChangeCountingStore();
    t = await makeApp({ store, config: LONG_POLICY });
  });
  after(() => t.app.close());

  /** A fresh live session for each run, so earlier runs (a logout) do not blunt later ones. */
  async function freshSession(): Promise<{ token: string; id: string }> {
    const response = await t.app.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { authorization: `Bearer ${API_KEY}` },
      payload: { subject: 'alice' },
    });
    const { token, session } = response.json();
    return { token, id: session.id };
  }

  /**
   * Sends one request and checks the answer. An event stream (`/v1/events` with a valid token) never
   * ends by itself: if no answer has come after a moment, the run's session is revoked, which ends
   * the stream; the store check then compares with the count from before that revocation.
   */
  async function send(request: InjectOptions, session: { id: string }): Promise<void> {
    const before = store.changes;
    let beforeRevocation: number | null = null;
    let response: LightMyRequestResponse;
    try {
      const pending = t.app.inject(request);
      let answer = await Promise.race([pending, sleep(200).then(() => null)]);
      if (answer === null) {
        beforeRevocation = store.changes;
        await t.app.inject({
          method: 'DELETE',
          url: `/v1/sessions/${session.id}`,
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        answer = await Promise.race([pending, sleep(5000).then(() => null)]);
        if (answer === null) throw new Error(`no answer from ${request.method} ${request.url}`);
      }
      response = answer;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('no answer')) throw error;
      // Only a request that cannot even be built (no real client could send it) may fail here.
      fc.pre(false);
      throw error;
    }
    checkAnswer(response, String(request.method ?? 'GET'));
    if (response.statusCode >= 400)
      assert.equal(beforeRevocation ?? store.changes, before, 'a refused request changed the store');
  }

  const credentialFor = (kind: Credential, token: string) =>
    kind === 'key' ? `Bearer ${API_KEY}` : kind === 'token' ? `Bearer ${token}` : undefined;

  const bodyProperty = (endpoints: Endpoint[]) =>
    fc.asyncProperty(
      fc.constantFrom(...endpoints).chain((endpoint) => fc.tuple(fc.constant(endpoint), bodyFor(endpoint))),
      contentType,
      async ([endpoint, payload], type) => {
        const { token, id } = await freshSession();
        const authorization = credentialFor(endpoint.credential, token);
        await send(
          {
            method: endpoint.method,
            url: endpoint.path(id),
            headers: { 'content-type': type, ...(authorization && { authorization }) },
            payload,
          },
          { id },
        );
      },
    );

  test('arbitrary bodies and content types at every endpoint', async () => {
    await fc.assert(bodyProperty(ENDPOINTS), RUNS);
  });

  // The endpoints that read a body get runs of their own, so that near-valid bodies reach the store.
  for (const endpoint of ENDPOINTS.filter((e) => e.body !== undefined)) {
    test(`arbitrary bodies and content types at ${endpoint.method} ${endpoint.path('id')}`, async () => {
      await fc.assert(bodyProperty([endpoint]), RUNS);
    });
  }

  test('arbitrary Authorization headers (garbage, near-misses, the wrong kind of credential)', async () => {
    /** Each value is made from the run's own token, so near-misses are near this session's token. */
    const authorization: fc.Arbitrary<(token: string) => string> = fc.oneof(
      headerValue.map((value) => () => value),
      headerValue.map((value) => () => `Bearer ${value}`),
      fc.constantFrom(
        (token: string) => `Bearer ${token}`,
        () => `Bearer ${API_KEY}`,
        (token: string) => `bearer  ${token} `,
        (token: string) => `Bearer ${token}${token}`,
        (token: string) => `Bearer ${token.slice(0, -1)}`,
        (token: string) => `Bearer ${token.slice(4)}`,
        () => `Bearer ${API_KEY.slice(0, -1)}`,
        () => `Basic ${API_KEY}`,
        () => `Bearer vgl_${'A'.repeat(43)}`,
        () => 'Bearer',
        () => 'Bearer ',
        () => '',
      ),
      fc
        .string({ unit: fc.constantFrom(...'ABCDEFGHabcdefgh0123456789_-'), minLength: 43, maxLength: 43 })
        .map((s) => () => `Bearer vgl_${s}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS),
        authorization,
        fc.dictionary(
          fc.constantFrom(
            'x-vigil-activity',
            'cookie',
            'x-forwarded-for',
            'accept',
            'origin',
            'x-original-uri',
            'x-forwarded-uri',
          ),
          headerValue,
        ),
        async (endpoint, makeAuthorization, extra) => {
          const { token, id } = await freshSession();
          await send(
            {
              method: endpoint.method,
              url: endpoint.path(id),
              headers: { ...extra, authorization: makeAuthorization(token) },
              payload: endpoint.method === 'POST' ? { subject: 'alice', state: 'active' } : undefined,
            },
            { id },
          );
        },
      ),
      RUNS,
    );
  });

  test('cookie-authenticated requests with hostile cookies, origins and forwarded URIs', async () => {
    const uri = fc.oneof(
      headerValue,
      fc.constantFrom(
        '/api/poll',
        '/api/poll?x=1',
        '/api//poll',
        '/api/%70oll',
        '/api/%',
        '/api/%zz/..',
        '/static/../../etc/passwd',
        '//evil.example/api/poll',
        'http://h/api/poll',
        '\\api\\poll',
        `/${'a/'.repeat(3000)}`,
        '/api/notifications/1/2',
        '',
      ),
    );
    const cookieFor: fc.Arbitrary<(token: string) => string> = fc.oneof(
      fc.constant((token: string) => `__Host-vigil=${token}`),
      fc.constant((token: string) => `a=1; __Host-vigil=${token}; b=2`),
      fc.constant((token: string) => `__Host-vigil="${token}"`),
      fc.constant((token: string) => `__Host-vigil=${token.slice(0, -1)}`),
      fc.constant((token: string) => `__Host-vigil=; __Host-vigil=${token}`),
      headerValue.map((value) => () => value),
      headerValue.map((value) => () => `__Host-vigil=${value}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ENDPOINTS.filter((e) => e.credential === 'token')),
        cookieFor,
        fc.option(
          fc.oneof(
            fc.constantFrom('http://localhost', 'https://app.example.com', 'https://evil.example', 'null'),
            headerValue,
          ),
        ),
        fc.record(
          {
            'x-original-uri': uri,
            'x-forwarded-uri': uri,
            'x-vigil-activity': fc.oneof(fc.constantFrom('passive', 'PASSIVE', 'active', ''), headerValue),
            authorization: fc.oneof(
              fc.constantFrom('Bearer app.jwt.token', `Bearer ${API_KEY}`, 'Basic eA=='),
              headerValue,
            ),
          },
          { requiredKeys: [] },
        ),
        async (endpoint, makeCookie, origin, extra) => {
          const { token, id } = await freshSession();
          await send(
            {
              method: endpoint.method,
              url: endpoint.path(id),
              headers: { ...extra, cookie: makeCookie(token), ...(origin !== null && { origin }) },
              payload: endpoint.method === 'POST' ? { state: 'active' } : undefined,
            },
            { id },
          );
        },
      ),
      RUNS,
    );
  });

  test('arbitrary URL paths and query strings, with and without credentials', async () => {
    const segment = fc.oneof(
      fc.string({ maxLength: 40 }).map(encodeURIComponent),
      fc.string({ unit: fc.constantFrom(..."abc%/.?#&=;:@!$'()*+,~-_ 0123456789ABCDEF"), maxLength: 30 }),
      fc.constantFrom(
        'v1',
        'sessions',
        'session',
        'subjects',
        'heartbeat',
        '..',
        '.',
        '',
        '%',
        '%00',
        '%ff',
        '%2F',
        '%E0%A4%A',
        '__proto__',
        'constructor',
      ),
      fc.constantFrom(300, 1000, 5000).map((n) => 'x'.repeat(n)),
    );
    const path = fc.oneof(
      fc.array(segment, { maxLength: 6 }).map((parts) => `/${parts.join('/')}`),
      fc
        .tuple(
          fc.constantFrom('/v1/sessions/', '/v1/subjects/', '/v1/'),
          segment,
          fc.constantFrom('', '/sessions', '/x', '/'),
        )
        .map((p) => p.join('')),
      fc.constantFrom(...ENDPOINTS.map((e) => e.path('x').split('?')[0] as string)),
    );
    const query = fc.oneof(
      fc.constant(''),
      fc
        .dictionary(
          fc.string({ maxLength: 10 }),
          fc.oneof(fc.string({ maxLength: 300 }), fc.array(fc.string(), { maxLength: 3 })),
        )
        .map(
          (params) =>
            `?${new URLSearchParams(Object.entries(params).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v] as [string, string]]))).toString()}`,
        ),
      fc.string({ maxLength: 80 }).map((raw) => `?${raw}`),
      fc.constantFrom(
        '?subject=',
        '?subject=%',
        '?subject[]=a',
        '?subject=a&subject=b',
        '?__proto__[x]=1',
        '?subject=%E0%A4%A',
        `?subject=${'s'.repeat(257)}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Method>('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
        path,
        query,
        fc.constantFrom<Credential>('key', 'token', 'none'),
        async (method, p, q, credential) => {
          const { token, id } = await freshSession();
          const authorization = credentialFor(credential, token);
          await send(
            {
              method,
              url: p + q,
              headers: authorization ? { authorization } : {},
              payload:
                method === 'POST' || method === 'PUT' || method === 'PATCH'
                  ? { state: 'active', subject: 'z' }
                  : undefined,
            },
            { id },
          );
        },
      ),
      RUNS,
    );
  });

  test('the prototype is never polluted', () => {
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
