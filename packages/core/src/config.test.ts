import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { resolveConfig } from './config.js';

describe('resolveConfig', () => {
  it('has defaults for everything', () => {
    const config = resolveConfig({});
    assert.equal(config.storeTimeoutMs, 2000);
    assert.equal(config.endedRetentionMs, 86_400_000);
    assert.deepEqual(config.heartbeatRateLimit, { burst: 10, perSecond: 1 });
    assert.equal(config.policies.get('default')?.idleTimeoutMs, 900_000);
  });

  it('reports every problem with its path', () => {
    assert.throws(
      () =>
        resolveConfig({
          storeTimout: '2s',
          storeTimeout: '0s',
          endedRetention: 'a day',
          heartbeatRateLimit: { burst: 0, perSecond: -1 },
          policies: { default: { idleTimeout: '2h', absoluteTimeout: '1h' } },
        }),
      (error: { details: { field: string; rule: string }[] }) => {
        assert.deepEqual(
          error.details.map((d) => d.field),
          [
            'storeTimout',
            'policies.default.idleTimeout',
            'storeTimeout',
            'endedRetention',
            'heartbeatRateLimit.burst',
            'heartbeatRateLimit.perSecond',
          ],
        );
        return true;
      },
    );
    assert.throws(() => resolveConfig([]), { code: 'validation_failed' });
  });

  it('heartbeatRateLimit: refuses unknown fields and null, like every other section', () => {
    assert.deepEqual(problems({ heartbeatRateLimit: { burts: 10 } }), [
      'heartbeatRateLimit.burts:unknown_field',
    ]);
    assert.deepEqual(problems({ heartbeatRateLimit: null }), ['heartbeatRateLimit:type']);
    assert.deepEqual(problems({ heartbeatRateLimit: [] }), ['heartbeatRateLimit:type']);
    assert.deepEqual(problems({ heartbeatRateLimit: { burst: null, perSecond: null } }), [
      'heartbeatRateLimit.burst:positive_integer',
      'heartbeatRateLimit.perSecond:positive',
    ]);
    assert.deepEqual(resolveConfig({ heartbeatRateLimit: { perSecond: 0.5 } }).heartbeatRateLimit, {
      burst: 10,
      perSecond: 0.5,
    });
  });

  it('endedRetention: refuses 0 like the other durations (a 401 could not say why), and null', () => {
    assert.deepEqual(problems({ endedRetention: 0 }), ['endedRetention:positive']);
    assert.deepEqual(problems({ endedRetention: '0s' }), ['endedRetention:positive']);
    assert.deepEqual(problems({ endedRetention: 'a day' }), ['endedRetention:duration']);
    assert.deepEqual(problems({ endedRetention: null, storeTimeout: null, audit: { retention: null } }), [
      'storeTimeout:duration',
      'endedRetention:duration',
      'audit.retention:duration',
    ]);
    assert.equal(resolveConfig({ endedRetention: '1m' }).endedRetentionMs, 60_000);
  });
});

/** The problems a config has, as `field:rule`. */
function problems(input: unknown): string[] {
  try {
    resolveConfig(input);
  } catch (error) {
    assert.equal((error as { code?: string }).code, 'validation_failed');
    return (error as { details: { field: string; rule: string }[] }).details.map(
      (d) => `${d.field}:${d.rule}`,
    );
  }
  return assert.fail('expected a validation error');
}

describe('resolveConfig: passivePaths', () => {
  const match = (patterns: string[], uri: string) =>
    resolveConfig({ passivePaths: patterns }).passivePaths.matches(uri);

  it('is empty by default and matches nothing', () => {
    const { passivePaths } = resolveConfig({});
    assert.deepEqual(passivePaths.patterns, []);
    assert.equal(passivePaths.matches('/api/poll'), false);
  });

  it('matches exact paths, * within a segment and ** across segments; ignores the query', () => {
    const patterns = ['/api/poll', '/api/notifications/*', '/live/**', '/a/**/z', '/files/*.json'];
    const table: [string, boolean][] = [
      ['/api/poll', true],
      ['/api/poll?since=1', true],
      ['/api/poll#x', true],
      ['/api/poll/', false],
      ['/api/polling', false],
      ['/api/notifications/42', true],
      ['/api/notifications/', true],
      ['/api/notifications/42/read', false],
      ['/live', true],
      ['/live/', true],
      ['/live/a/b/c', true],
      ['/lively', false],
      ['/a/z', true],
      ['/a/b/c/z', true],
      ['/a/b/c/zz', false],
      ['/files/report.json', true],
      ['/files/report.json.bak', false],
      ['/other', false],
    ];
    for (const [uri, expected] of table) assert.equal(match(patterns, uri), expected, uri);
  });

  it('matches the path an application routes: // merged, dot segments resolved, unreserved escapes decoded', () => {
    assert.equal(match(['/api/poll'], '/api//poll'), true);
    assert.equal(match(['/api/poll'], '/api/x/../poll'), true);
    assert.equal(match(['/api/poll'], '/api/%2e%2e/api/poll'), true);
    assert.equal(match(['/api/poll'], '/api/%70%6F%6c%6C'), true);
    assert.equal(match(['/api/poll'], 'https://example.com/api/poll?x'), true);
    assert.equal(
      match(['/api/a%2Fb'], '/api/a%2fb'),
      true,
      'reserved escapes stay escapes (case-normalized)',
    );
    assert.equal(match(['/api/*'], '/api/a%2Fb'), true);
    assert.equal(match(['/api/poll'], '/api\\poll'), false, 'a backslash is not a separator');
    assert.equal(match(['/api/poll'], '/API/poll'), false, 'case-sensitive');
    assert.equal(match(['/**'], `/${'a'.repeat(3000)}`), false, 'over-long paths are never passive');
  });

  it('refuses bad patterns at start, each with its field path', () => {
    assert.throws(
      () =>
        resolveConfig({
          passivePaths: [
            'api/poll',
            '/a/**/b/**',
            '/a**',
            '/a/*b*',
            '/a/../b',
            '/a//b',
            5,
            '/x?y',
            '/%zz',
            '',
          ],
        }),
      (error: { details: { field: string; rule: string }[] }) => {
        assert.deepEqual(
          error.details.map((d) => d.field),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => `passivePaths.${i}`),
        );
        return true;
      },
    );
    assert.throws(() => resolveConfig({ passivePaths: '/api/poll' }), { code: 'validation_failed' });
  });

  it('stays fast and never throws, whatever the path (patterns compiled once)', () => {
    const { passivePaths } = resolveConfig({ passivePaths: ['/a/**/b*c', '/x/*y', '/api/**'] });
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), (uri) => {
        passivePaths.matches(uri);
      }),
    );
    const started = performance.now();
    for (let i = 0; i < 100; i++) passivePaths.matches(`/a/${'b/'.repeat(1000)}x`);
    assert.ok(performance.now() - started < 500, 'no catastrophic backtracking');
  });
});

describe('resolveConfig: cookie', () => {
  it('defaults: off, __Host-vigil, Secure, SameSite=Lax, no extra origins', () => {
    assert.deepEqual(resolveConfig({}).cookie, {
      enabled: false,
      name: '__Host-vigil',
      secure: true,
      sameSite: 'lax',
      allowedOrigins: [],
    });
  });

  it('plain `vigil` when secure is off; origins normalized', () => {
    const { cookie } = resolveConfig({
      cookie: {
        enabled: true,
        secure: false,
        allowedOrigins: ['HTTPS://App.Example.com/', 'http://localhost:5173'],
      },
    });
    assert.equal(cookie.name, 'vigil');
    assert.deepEqual(cookie.allowedOrigins, ['https://app.example.com', 'http://localhost:5173']);
  });

  it('refuses what browsers would refuse, and origins that are not origins', () => {
    assert.throws(
      () =>
        resolveConfig({
          cookie: {
            enabled: 'yes',
            secure: false,
            name: '__Host-vigil',
            sameSite: 'none',
            allowedOrigins: ['*', 'https://a.example/path', 'ftp://a.example', 42],
            domain: 'x',
          },
        }),
      (error: { details: { field: string; rule: string }[] }) => {
        assert.deepEqual(
          error.details.map((d) => `${d.field}:${d.rule}`),
          [
            'cookie.domain:unknown_field',
            'cookie.enabled:type',
            'cookie.name:prefix_needs_secure',
            'cookie.sameSite:none_needs_secure',
            'cookie.allowedOrigins.0:origin',
            'cookie.allowedOrigins.1:origin',
            'cookie.allowedOrigins.2:origin',
            'cookie.allowedOrigins.3:origin',
          ],
        );
        return true;
      },
    );
    assert.throws(() => resolveConfig({ cookie: { name: 'a b' } }), { code: 'validation_failed' });
  });
});

describe('resolveConfig: webhooks and relay', () => {
  it('webhooks: every session event by default (not heartbeat.sleeping); events can be chosen', () => {
    const { webhooks } = resolveConfig({
      webhooks: [
        { url: 'https://hooks.example/vigil', secret: 'whsec_0123456789abcdef' },
        { url: 'http://127.0.0.1:9000/x', secret: 'whsec_0123456789abcdef', events: ['heartbeat.sleeping'] },
      ],
    });
    assert.deepEqual(webhooks[0]?.events, [
      'session.created',
      'session.warning',
      'session.extended',
      'session.expired',
      'session.revoked',
    ]);
    assert.deepEqual(webhooks[1]?.events, ['heartbeat.sleeping']);
  });

  it('webhooks: problems by path, never echoing a secret', () => {
    assert.throws(
      () =>
        resolveConfig({
          webhooks: [{ url: 'ftp://x', secret: 'short-secret', events: ['session.nope'], retries: 3 }, 'x'],
        }),
      (error: { details: { field: string; message: string }[] }) => {
        assert.deepEqual(
          error.details.map((d) => d.field),
          ['webhooks.0.retries', 'webhooks.0.url', 'webhooks.0.secret', 'webhooks.0.events.0', 'webhooks.1'],
        );
        assert.ok(!JSON.stringify(error.details).includes('short-secret'));
        return true;
      },
    );
  });

  it('relay: null by default; defaults for timeout, failureThreshold, probeInterval', () => {
    assert.equal(resolveConfig({}).relay, null);
    assert.deepEqual(resolveConfig({ relay: { url: 'https://upstream.example/hb' } }).relay, {
      url: 'https://upstream.example/hb',
      timeoutMs: 2000,
      failureThreshold: 5,
      probeIntervalMs: 30_000,
    });
  });

  it('relay: null means no relay, but a null field is refused, not taken for its default', () => {
    assert.equal(resolveConfig({ relay: null }).relay, null);
    assert.deepEqual(
      problems({
        relay: {
          url: 'https://upstream.example/hb',
          timeout: null,
          failureThreshold: null,
          probeInterval: null,
        },
      }),
      ['relay.timeout:duration', 'relay.probeInterval:duration', 'relay.failureThreshold:positive_integer'],
    );
  });

  it('relay: problems by path', () => {
    assert.throws(
      () => resolveConfig({ relay: { timeout: '0s', failureThreshold: 0, probeInterval: 'often', x: 1 } }),
      (error: { details: { field: string }[] }) => {
        assert.deepEqual(
          error.details.map((d) => d.field),
          ['relay.x', 'relay.url', 'relay.probeInterval', 'relay.timeout', 'relay.failureThreshold'],
        );
        return true;
      },
    );
  });
});
