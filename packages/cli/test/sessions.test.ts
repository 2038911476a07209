import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startRedis } from '../../store-redis/test/redis-server.js';
import { API_KEY, call, runVigil, startVigil, tempDir, writeJson } from './helpers.js';

/** `vigil sessions …` and `vigil stats` against a real `vigil serve` (memory store). */

const CONFIG = {
  policies: {
    default: { idleTimeout: '10m', absoluteTimeout: '8h', warnBefore: '1m' },
    admin: { idleTimeout: '5m', absoluteTimeout: '1h', warnBefore: '30s' },
    // In its warning period half a second after its creation.
    brief: { idleTimeout: '1m', absoluteTimeout: '1h', warnBefore: '59500ms' },
  },
};

/** A port nothing listens on: taken from the system, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('vigil sessions and vigil stats, against a running server', () => {
  let url: string;
  /** What the suite cleans up at its end: the server, then its temp folder. */
  const cleanups: Array<() => unknown> = [];
  const suite = { after: (fn: () => unknown) => void cleanups.unshift(fn) };

  before(async () => {
    const dir = tempDir(suite);
    const vigil = await startVigil(suite, [
      '--store',
      'memory',
      '--config',
      writeJson(dir, 'vigil.json', CONFIG),
    ]);
    suite.after(() => vigil.stop());
    url = vigil.url;
  });

  after(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  async function createSession(subject: string, policy?: string): Promise<{ id: string; token: string }> {
    const answer = await call(url, 'POST', '/v1/sessions', {
      auth: API_KEY,
      body: { subject, ...(policy && { policy }) },
    });
    assert.equal(answer.status, 201);
    return { id: answer.body.session.id, token: answer.body.token };
  }

  const vigilAt = (args: string[], env: Record<string, string | undefined> = {}) =>
    runVigil([...args, '--url', url], env);

  test('sessions list: a table by default, the JSON with --json; the URL may come from VIGIL_URL', async () => {
    const first = await createSession('ada');
    const second = await createSession('ada', 'admin');
    await createSession('grace');

    const table = await vigilAt(['sessions', 'list', '--subject', 'ada']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^ID\s+POLICY\s+STATE\s+CREATED \(UTC\)\s+LAST ACTIVITY \(UTC\)\s+ENDS \/ ENDED \(UTC\)$/,
    );
    assert.equal(lines.length, 4, table.stdout);
    const row = (id: string) => lines.find((line) => line.startsWith(`${id} `)) ?? '';
    assert.match(row(first.id), /\sdefault\s+active\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+.*\sin (9m5\ds|10m)$/);
    assert.match(row(second.id), /\sadmin\s+active\s.*\sin (4m5\ds|5m)$/);
    assert.equal(lines[3], 'ada: 2 live, 0 ended (kept for the retention period)');
    assert.ok(!table.stdout.includes(first.token), 'never a token');

    const json = await runVigil(['sessions', 'list', '--subject', 'ada', '--json'], { VIGIL_URL: url });
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    assert.deepEqual(
      body.sessions.map((session: { id: string }) => session.id),
      [first.id, second.id],
    );
    assert.deepEqual(body, (await call(url, 'GET', '/v1/sessions?subject=ada', { auth: API_KEY })).body);

    const nobody = await vigilAt(['sessions', 'list', '--subject', 'nobody']);
    assert.equal(nobody.code, 0);
    assert.equal(nobody.stdout, 'nobody has no sessions.\n');
  });

  test('sessions revoke ID ends that session; an unknown ID is exit 4', async () => {
    const session = await createSession('linus');
    const revoked = await vigilAt(['sessions', 'revoke', session.id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `Revoked session ${session.id}.\n`);
    const read = await call(url, 'GET', `/v1/sessions/${session.id}`, { auth: API_KEY });
    assert.equal(read.body.reason, 'revoked');
    const heartbeat = await call(url, 'POST', '/v1/heartbeat', {
      auth: session.token,
      body: { state: 'active' },
    });
    assert.equal(heartbeat.status, 401);

    const listed = await vigilAt(['sessions', 'list', '--subject', 'linus']);
    assert.match(listed.stdout, new RegExp(`^${session.id}\\s+default\\s+ended: revoked\\s`, 'm'));

    const unknown = await vigilAt(['sessions', 'revoke', 'no-such-session', '--json']);
    assert.equal(unknown.code, 4);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^vigil sessions: no session with ID "no-such-session"/);

    // One ID in 64 begins with '-': it is an ID to look up, not an option.
    const dashed = `-${'x'.repeat(42)}`;
    const lookedUp = await vigilAt(['sessions', 'revoke', dashed, '--json']);
    assert.equal(lookedUp.code, 4, lookedUp.stderr);
    assert.match(lookedUp.stderr, new RegExp(`no session with ID "${dashed}"`));

    const other = await createSession('linus');
    const json = await vigilAt(['sessions', 'revoke', other.id, '--json']);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.stdout), { id: other.id, revoked: true });
  });

  test('sessions revoke-all --subject S ends every live session of S and says how many', async () => {
    await createSession('margaret');
    await createSession('margaret', 'admin');
    const keep = await createSession('katherine');
    const human = await vigilAt(['sessions', 'revoke-all', '--subject', 'margaret']);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stdout, 'Revoked 2 live sessions of margaret.\n');
    const again = await vigilAt(['sessions', 'revoke-all', '--subject', 'margaret', '--json']);
    assert.deepEqual(JSON.parse(again.stdout), { subject: 'margaret', revoked: 0 });
    const listed = await call(url, 'GET', '/v1/sessions?subject=margaret', { auth: API_KEY });
    assert.deepEqual(
      listed.body.sessions.map((session: { reason?: string }) => session.reason),
      ['revoked', 'revoked'],
    );
    const kept = await call(url, 'GET', `/v1/sessions/${keep.id}`, { auth: API_KEY });
    assert.equal(kept.body.endedAt, undefined);
  });

  test('stats: live counts by policy and state, counters since start, and --json', async () => {
    const json = await vigilAt(['stats', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const body = JSON.parse(json.stdout);
    const server = (await call(url, 'GET', '/v1/stats', { auth: API_KEY })).body;
    assert.deepEqual(body.live, server.live);
    assert.deepEqual(body.totals, server.totals);
    // Sessions so far: ada ×2, grace, katherine live; linus ×2 and margaret ×2 revoked.
    const row = (policy: string) =>
      body.live.byPolicy.find((entry: { policy: string }) => entry.policy === policy);
    assert.deepEqual(row('default'), { policy: 'default', active: 3, warning: 0 });
    assert.deepEqual(row('admin'), { policy: 'admin', active: 1, warning: 0 });
    assert.equal(body.totals.created, 8);
    assert.equal(body.totals.ended.revoked, 4);

    const human = await vigilAt(['stats']);
    assert.equal(human.code, 0, human.stderr);
    const text = human.stdout;
    assert.match(text, /^Live sessions: 4 \(4 active, 0 in their warning period\)$/m);
    assert.match(text, /^POLICY\s+ACTIVE\s+WARNING\s+TOTAL$/m);
    assert.match(text, /^default\s+3\s+0\s+3$/m);
    assert.match(text, /^admin\s+1\s+0\s+1$/m);
    assert.match(text, /^ {2}created {5}8$/m);
    assert.match(text, /^ {2}ended {7}4 \(revoked 4\)$/m);
    assert.match(text, /^Last hour: 0 heartbeats, 0 expired, 4 ended otherwise$/m);
  });

  test('clear errors: bad key (5), missing key or subject or command (2), unknown option (2)', async () => {
    const badKey = await vigilAt(['stats'], { VIGIL_API_KEY: 'wrong-key-0123456789' });
    assert.equal(badKey.code, 5);
    assert.match(badKey.stderr, /^vigil stats: the server refused the API key \(401 unauthenticated/);

    const flagKey = await vigilAt(['stats', '--api-key', 'also-wrong-0123456789'], {
      VIGIL_API_KEY: API_KEY,
    });
    assert.equal(flagKey.code, 5, '--api-key wins over the environment');

    const noKey = await vigilAt(['stats'], { VIGIL_API_KEY: undefined });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /no API key: set VIGIL_API_KEY/);

    for (const args of [
      ['sessions', 'list'],
      ['sessions', 'revoke-all'],
      ['sessions', 'revoke'],
      ['sessions'],
      ['sessions', 'delete', 'x'],
      ['sessions', 'list', '--subject', 'a', 'extra'],
      ['stats', '--verbose'],
    ]) {
      const result = await vigilAt(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /Usage: vigil (sessions|stats)/);
    }

    const badUrl = await runVigil(['stats', '--url', 'ftp://example.com']);
    assert.equal(badUrl.code, 2);
  });

  test('sessions list says which live sessions are in their warning period, as vigil stats counts them', async () => {
    const warned = await createSession('hedy', 'brief');
    const calm = await createSession('hedy');
    await new Promise((resolve) => setTimeout(resolve, 700));
    const table = await vigilAt(['sessions', 'list', '--subject', 'hedy']);
    assert.equal(table.code, 0, table.stderr);
    const row = (id: string) => table.stdout.split('\n').find((line) => line.startsWith(`${id} `)) ?? '';
    assert.match(row(warned.id), /\sbrief\s+warning\s/);
    assert.match(row(calm.id), /\sdefault\s+active\s/);
    assert.match(table.stdout, /^hedy: 2 live, 0 ended/m);
  });

  test('revoke-all cannot name the subject `..` in a URL: it says so rather than hitting another route', async () => {
    const dots = await createSession('..');
    const result = await vigilAt(['sessions', 'revoke-all', '--subject', '..']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /no URL can name the subject "\.\."/);
    const listed = await vigilAt(['sessions', 'list', '--subject', '..', '--json']);
    assert.deepEqual(
      JSON.parse(listed.stdout).sessions.map((session: { id: string }) => session.id),
      [dots.id],
      'listed by query, where dots are safe',
    );
    const one = await vigilAt(['sessions', 'revoke', dots.id]);
    assert.equal(one.code, 0, one.stderr);
  });

  test('a URL or key that cannot work is bad usage (2), and a password in the URL is never echoed', async () => {
    const withPassword = new URL(url);
    withPassword.username = 'admin';
    withPassword.password = 'urlS3cret';
    const credentials = await runVigil(['stats', '--url', withPassword.href]);
    assert.equal(credentials.code, 2);
    assert.match(credentials.stderr, /must not hold a user name or password/);
    assert.ok(!credentials.stderr.includes('urlS3cret'), credentials.stderr);

    const unsendable = await vigilAt(['stats'], { VIGIL_API_KEY: 'k123456789abcdefXYZ€' });
    assert.equal(unsendable.code, 2);
    assert.match(
      unsendable.stderr,
      /the API key in VIGIL_API_KEY holds spaces or characters outside printable ASCII/,
    );

    const wrongFlagKey = await vigilAt(['stats', '--api-key', 'also-wrong-0123456789']);
    assert.equal(wrongFlagKey.code, 5);
    assert.match(wrongFlagKey.stderr, /check --api-key$/m, 'names where the refused key came from');
  });

  test('something that is not Vigil at the URL (a login page, a wrong base path) is exit 1, not a stack trace', async (t) => {
    const page = createHttpServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end('<html>login</html>');
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    t.after(() => page.close());
    const { port } = page.address() as AddressInfo;
    for (const args of [
      ['stats'],
      ['sessions', 'list', '--subject', 'ada'],
      ['sessions', 'revoke-all', '--subject', 'ada'],
    ]) {
      const result = await runVigil([...args, '--url', `http://127.0.0.1:${port}`]);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /does not look like a Vigil server \(HTTP 200, not JSON\)/);
      assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    }
    // Vigil itself, but the URL has a path too many: its JSON 404 is about the route, not a session.
    const wrongBase = await runVigil(['stats', '--url', `${url}/base/`]);
    assert.equal(wrongBase.code, 1, wrongBase.stderr);
    assert.match(wrongBase.stderr, /does not look like a Vigil server \(404 not_found/);
  });

  test('an unreachable server is exit 3, with the URL tried', async () => {
    const port = await closedPort();
    const result = await runVigil([
      'sessions',
      'list',
      '--subject',
      'ada',
      '--url',
      `http://127.0.0.1:${port}`,
    ]);
    assert.equal(result.code, 3);
    assert.match(
      result.stderr,
      new RegExp(`cannot reach the server at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
    );
    assert.equal(result.stdout, '');
  });

  test('a server that cannot reach its store is exit 1, with its error code', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    const vigil = await startVigil(t, ['--store', redis.url]);
    t.after(() => vigil.stop());
    const healthy = await runVigil(['stats', '--url', vigil.url]);
    assert.equal(healthy.code, 0, healthy.stderr);
    await redis.kill();
    const result = await runVigil(['stats', '--url', vigil.url]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^vigil stats: the server answered 503 store_unavailable/);
    assert.equal(result.stdout, '');
  });
});
