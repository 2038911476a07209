// `npm run bench`: every comparison of issue 7, side by side in one run on loopback, written to
// bench/results/latest.{md,json} (and, with --update-readme, into README.md between the markers).
//
// - Throughput (wrk, else autocannon, in its own process: bench/lib/load-generator.mjs; the targets
//   taking turns round after round): Vigil's
//   `POST /v1/heartbeat` on SQLite, memory, Redis and PostgreSQL, a bare Fastify route answering 204
//   (the ceiling) and Express + express-session + connect-redis on the same Redis (the common setup);
//   `GET /v1/authorize` on SQLite and Redis, direct and through a real nginx `auth_request`
//   (examples/proxies/nginx.conf) in front of an app, beside that nginx and app with no check.
//   Requests/s, p50/p99 and the CPU the server and its store spent per request (from /proc: on a
//   shared machine it moves far less with other work than requests/s do). redis-benchmark's SET/GET
//   on the same Redis is the store's ceiling.
// - Memory: RSS and heap per live session for 1,000,000 sessions in Vigil's memory store and in
//   express-session's MemoryStore (bench/memory-sessions.mjs); bytes per session in Redis (Vigil and
//   connect-redis), SQLite and PostgreSQL (bench/store-bytes.mjs), rows per session in PostgreSQL.
// - Expiry: one sweeper round with 10,000 / 1,000,000 live sessions of which 1% expire, and with
//   1,000,000 of which as few expire as in the small case (bench/expiry.mjs), memory and SQLite.
// - The browser SDK: min+gzip size beside react-idle-timer and @ng-idle/core, heartbeats per user-hour.
// - WebSocket: if bench/ws.mjs exists, it is run with `{"short", "seconds", "connections"}` and
//   its last stdout line (JSON: a row `{name, requestsPerSecond | messagesPerSecond, p50Ms, p99Ms}`
//   or `{rows: [...]}`) joins the results.
//
// `--short` (CI): 2 s per target, one round, smaller counts (about a minute). Full: 5 s, 3 rounds,
// a million sessions where the issue says so (several minutes). BENCH_DURATION, BENCH_ROUNDS,
// BENCH_CONNECTIONS override. Parts whose tools are missing (redis-server, PostgreSQL, nginx) are
// skipped with a note, never faked. BENCH_LOAD_GENERATOR=autocannon uses autocannon where wrk is
// installed too.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { clientSizes, heartbeatsPerHour } from './lib/client.mjs';
import { loadGenerator } from './lib/load-generator.mjs';
import { measure, median, summarise } from './lib/measure.mjs';
import { NGINX, nginxVersion, startNginx } from './lib/nginx.mjs';
import { postgresBinDir, startPostgres } from './lib/postgres.mjs';
import { root, runJson, startServer, toolVersion, versionOf, workDir } from './lib/processes.mjs';
import { bytesPerSession, redisBenchmark, redisVersion, startRedis } from './lib/redis.mjs';
import { renderMarkdown } from './lib/report.mjs';
import { vigilServeArgs } from './lib/vigil-args.mjs';

const args = new Set(process.argv.slice(2));
const short = args.has('--short');
const settings = {
  short,
  seconds: Number(process.env.BENCH_DURATION ?? (short ? 2 : 5)),
  // Three rounds in a full run: the median then ignores one round another tenant's burst spoiled.
  rounds: Number(process.env.BENCH_ROUNDS ?? (short ? 1 : 3)),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
  sessions: 1000,
  memorySessions: short ? 100_000 : 1_000_000,
  redisSessions: short ? 2_000 : 20_000,
  sqliteSessions: short ? 10_000 : 100_000,
  postgresSessions: short ? 2_000 : 20_000,
  expiryCases: short
    ? [
        [1_000, 10],
        [100_000, 1_000],
        [100_000, 10],
      ]
    : [
        [10_000, 100],
        [1_000_000, 10_000],
        [1_000_000, 100],
      ],
};
const apiKey = `bench_${randomBytes(24).toString('base64url')}`;
const log = (line) => process.stderr.write(`${line}\n`);
const started = Date.now();

log('Building (tsc -b)…');
if (
  spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], { cwd: root, stdio: 'inherit' })
    .status !== 0
) {
  process.exit(1);
}

// Other work on the machine skews every row; the load before (and after) the run is reported.
const loadBefore = Number(loadavg()[0].toFixed(2));
if (loadBefore > cpus().length / 2)
  log(`warning: load average ${loadBefore} on ${cpus().length} CPUs; figures will be noisy`);

// ---- servers -------------------------------------------------------------------------------------

// `default` writes every heartbeat (touchGranularity 0): what real clients cause, each sending one
// beat per heartbeatInterval, and what express-session's rolling keepalive does on every request.
// `coalesced` keeps the default granularity (1 s here), for one row showing what coalescing saves.
const configPath = join(workDir, 'bench.config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    policies: {
      default: { idleTimeout: '15m', absoluteTimeout: '8h', touchGranularity: '0ms' },
      coalesced: { idleTimeout: '15m', absoluteTimeout: '8h' },
    },
    // The per-session limit protects a real deployment; here one session takes many requests.
    heartbeatRateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
  }),
);
const vigil = (label, store) =>
  startServer(`vigil (${label})`, vigilServeArgs(store, configPath), { VIGIL_API_KEY: apiKey });

/** Runs `makeOne(i)` for i < count, `concurrency` at a time; resolves with the results in order. */
async function forEachIndex(count, makeOne, concurrency = 32) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await makeOne(i);
      }
    }),
  );
  return results;
}

/** Vigil sessions, one subject each (as real users): resolves with their tokens. */
function createSessions(url, count, prefix = 'bench', policy = 'default') {
  return forEachIndex(count, async (i) => {
    const response = await fetch(`${url}/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: `${prefix}-${i}`, policy }),
    });
    if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
    return (await response.json()).token;
  });
}

/** express-session sessions, one login each: resolves with their cookies (`connect.sid=…`). */
function loginSessions(url, count, prefix = 'bench') {
  return forEachIndex(count, async (i) => {
    const response = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: `${prefix}-${i}` }),
    });
    if (response.status !== 201) throw new Error(`login: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
    if (cookie === undefined) throw new Error('login: no session cookie');
    return cookie.split(';')[0];
  });
}

const servers = [];
const notes = [];
const heartbeat = (name, server, tokens, extra = {}) => ({
  group: 'heartbeat',
  name,
  url: server.url,
  path: '/v1/heartbeat',
  tokens,
  expectedStatus: 200,
  pids: () => [server.child.pid],
  ...extra,
});
const authorize = (name, url, tokens, pids, extra = {}) => ({
  group: 'authorize',
  name,
  url,
  path: '/app/page',
  method: 'GET',
  tokens,
  expectedStatus: 200,
  pids,
  ...extra,
});

const generator = loadGenerator();
log(`Starting servers… (load generator: ${generator.name} ${generator.version})`);
const bare = await startServer('bare fastify', ['bench/bare-fastify.mjs']);
servers.push(bare);
// Same request as Vigil's (an Authorization header included), so only the server differs.
const targets = [
  heartbeat('bare Fastify route (204)', bare, ['vgl_not-checked-by-the-bare-route'], {
    expectedStatus: 204,
    key: 'bare',
  }),
];

const sqlite = await vigil('SQLite', `sqlite:${join(workDir, 'vigil.db')}`);
servers.push(sqlite);
const sqliteTokens = await createSessions(sqlite.url, settings.sessions);
const sqliteCoalesced = await createSessions(sqlite.url, settings.sessions, 'coalesced', 'coalesced');
targets.push(
  heartbeat(`Vigil, SQLite`, sqlite, sqliteTokens, { key: 'sqlite' }),
  heartbeat(`Vigil, SQLite, touches coalesced (touchGranularity 1 s)`, sqlite, sqliteCoalesced, {
    key: 'sqliteCoalesced',
  }),
);

const memory = await vigil('memory', 'memory');
servers.push(memory);
targets.push(
  heartbeat('Vigil, memory', memory, await createSessions(memory.url, settings.sessions), { key: 'memory' }),
);

const redisServerVersion = redisVersion();
let redis = null;
let redisMemory = null;
let vigilRedis = null;
let redisTokens = null;
if (redisServerVersion === null) {
  notes.push('Redis rows skipped: redis-server, redis-cli or redis-benchmark is not installed.');
} else {
  redis = await startRedis();
  vigilRedis = await vigil('Redis', redis.url);
  const express = await startServer('express-session', ['bench/express-session.mjs'], {
    REDIS_URL: redis.url,
    SESSION_TTL_S: '900',
  });
  servers.push(vigilRedis, express);
  // Memory per session first, on the otherwise empty server; those sessions stay live, as in a
  // deployment, while the throughput rounds run.
  log(`Redis memory: ${settings.redisSessions} sessions through each system…`);
  redisMemory = {
    vigil: await bytesPerSession(redis.port, settings.redisSessions, (n, p) =>
      createSessions(vigilRedis.url, n, p),
    ),
    connectRedis: await bytesPerSession(redis.port, settings.redisSessions, (n, p) =>
      loginSessions(express.url, n, p),
    ),
  };
  redisTokens = await createSessions(vigilRedis.url, settings.sessions);
  const withRedis = (server) => () => [server.child.pid, redis.child.pid];
  targets.push(
    heartbeat('Vigil, Redis', vigilRedis, redisTokens, { key: 'redis', pids: withRedis(vigilRedis) }),
    heartbeat(
      'express-session + connect-redis keepalive, Redis',
      express,
      await loginSessions(express.url, settings.sessions),
      {
        key: 'express',
        credential: 'cookie',
        pids: withRedis(express),
      },
    ),
  );
}

const pgBin = postgresBinDir();
let postgres = null;
if (pgBin === null) {
  notes.push('PostgreSQL rows skipped: initdb, pg_ctl and postgres were not found.');
} else {
  postgres = await startPostgres(pgBin);
  const vigilPostgres = await vigil('PostgreSQL', postgres.url);
  servers.push(vigilPostgres);
  targets.push(
    heartbeat(
      'Vigil, PostgreSQL',
      vigilPostgres,
      await createSessions(vigilPostgres.url, settings.sessions),
      {
        key: 'postgres',
        pids: () => [vigilPostgres.child.pid, ...postgres.pids()],
      },
    ),
  );
}

// Forward-auth: the check alone, and nginx asking it before every request to an app.
const sqliteOnly = () => [sqlite.child.pid];
targets.push(
  authorize('Vigil GET /v1/authorize, SQLite', sqlite.url, sqliteTokens, sqliteOnly, {
    path: '/v1/authorize',
    headers: { 'x-original-uri': '/app/page' },
    key: 'authorizeSqlite',
  }),
);
if (vigilRedis !== null) {
  targets.push(
    authorize(
      'Vigil GET /v1/authorize, Redis',
      vigilRedis.url,
      redisTokens,
      () => [vigilRedis.child.pid, redis.child.pid],
      {
        path: '/v1/authorize',
        headers: { 'x-original-uri': '/app/page' },
        key: 'authorizeRedis',
      },
    ),
  );
}
const nginxVersionFound = nginxVersion();
if (nginxVersionFound === null) {
  notes.push(`nginx rows skipped: ${NGINX} is not installed.`);
} else {
  const app = await startServer('upstream app', ['bench/upstream-app.mjs']);
  servers.push(app);
  const nginx = await startNginx(sqlite.url, app.url);
  servers.push({ stop: nginx.stop });
  const withNginx =
    (...more) =>
    () => [...nginx.pids(), app.child.pid, ...more];
  targets.push(
    authorize(
      'nginx auth_request → Vigil (SQLite) → app',
      nginx.url,
      sqliteTokens,
      withNginx(sqlite.child.pid),
      {
        key: 'nginxAuthorize',
      },
    ),
    authorize('nginx → app, no check (its ceiling)', nginx.url, [], withNginx(), {
      path: '/login',
      key: 'nginxBare',
    }),
  );
}

// ---- throughput rounds ---------------------------------------------------------------------------

// All servers run side by side (idle ones cost nothing) and the targets take turns, round after
// round: a burst of other work on the machine then hits every target, not one.
const runs = new Map(targets.map((target) => [target, []]));
const redisRuns = [];
for (let round = 0; round < settings.rounds; round++) {
  log(`Throughput, round ${round + 1} of ${settings.rounds}`);
  for (const target of targets) {
    runs.get(target).push(measure(target, { ...settings, warmUp: round === 0 && !short }));
  }
  if (redis !== null) redisRuns.push(redisBenchmark(redis.port));
}
await Promise.all(servers.map((server) => server.stop()));
redis?.child.kill('SIGKILL');

const rows = targets.map((target) => ({ key: target.key, ...summarise(target, runs.get(target)) }));
const row = (key) => rows.find((r) => r.key === key);
const ceiling = row('bare').requestsPerSecond;
for (const r of rows) r.ratioToBare = Number((r.requestsPerSecond / ceiling).toFixed(2));

// ---- memory, expiry, client ----------------------------------------------------------------------

log(`Memory store: ${settings.memorySessions} sessions in each system (fresh processes)…`);
const inProcess = {
  vigil: runJson(
    'bench/memory-sessions.mjs',
    { system: 'vigil', count: settings.memorySessions },
    { nodeArgs: ['--expose-gc'] },
  ),
  expressSession: runJson(
    'bench/memory-sessions.mjs',
    { system: 'express-session', count: settings.memorySessions },
    { nodeArgs: ['--expose-gc'] },
  ),
};
log('Bytes per session on disk…');
const sqliteDir = join(workDir, 'sqlite-bytes');
mkdirSync(sqliteDir);
const onDisk = {
  sqlite: runJson('bench/store-bytes.mjs', {
    store: 'sqlite',
    dir: sqliteDir,
    count: settings.sqliteSessions,
  }),
  postgres: null,
};
if (postgres !== null) {
  // A database of its own: the throughput rows' sessions are not counted.
  await postgres.query('CREATE DATABASE vigil_bytes', 'postgres');
  onDisk.postgres = runJson('bench/store-bytes.mjs', {
    store: 'postgres',
    url: `postgres://postgres@127.0.0.1:${postgres.port}/vigil_bytes`,
    count: settings.postgresSessions,
  });
}

log('Expiry: sweeper rounds…');
const expiryDir = join(workDir, 'expiry');
mkdirSync(expiryDir);
const expiry = [];
for (const store of ['memory', 'sqlite']) {
  for (const [live, due] of settings.expiryCases) {
    const result = runJson('bench/expiry.mjs', { store, live, due, dir: expiryDir });
    log(
      `  ${store}, ${live} live, ${due} due: ${result.round.wallMs} ms (${result.microsPerExpired} µs per expired)`,
    );
    expiry.push(result);
  }
}

log('Client: bundle sizes and heartbeats per hour…');
const { resolveConfig } = await import('@vigil/core');
const client = {
  ...(await clientSizes()),
  heartbeats: await heartbeatsPerHour(resolveConfig({}).policies.get('default')),
};

let websocket = null;
if (existsSync(join(root, 'bench/ws.mjs'))) {
  log('WebSocket (bench/ws.mjs)…');
  try {
    websocket = runJson('bench/ws.mjs', {
      short,
      seconds: settings.seconds,
      connections: settings.connections,
    });
  } catch (error) {
    notes.push(`bench/ws.mjs failed: ${error.message.split('\n')[0]}`);
  }
}

// ---- results -------------------------------------------------------------------------------------

const cpu = cpus();
const versions = {
  node: process.version,
  vigil: JSON.parse(readFileSync(join(root, 'packages/server/package.json'), 'utf8')).version,
  fastify: versionOf('fastify'),
  'better-sqlite3': versionOf('better-sqlite3'),
  ioredis: versionOf('ioredis'),
  pg: versionOf('pg'),
  autocannon: versionOf('autocannon'),
  loadGenerator: `${generator.name} ${generator.version}`,
  'redis-server': redisServerVersion,
  postgresql: postgres?.version ?? null,
  nginx: nginxVersionFound,
  express: versionOf('express'),
  'express-session': versionOf('express-session'),
  'connect-redis': versionOf('connect-redis'),
  redis: versionOf('redis'),
  esbuild: client.esbuild,
  'react-idle-timer': versionOf('react-idle-timer'),
  '@ng-idle/core': versionOf('@ng-idle/core'),
};
const redisCeiling =
  redisRuns.length === 0
    ? null
    : {
        SET: Math.round(median(redisRuns.map((r) => r.SET.requestsPerSecond))),
        GET: Math.round(median(redisRuns.map((r) => r.GET.requestsPerSecond))),
      };
const vigilOnRedis = row('redis');
const express = row('express');
const results = {
  date: new Date().toISOString(),
  machine: {
    cpu: `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageBefore: loadBefore,
    loadAverageAfter: Number(loadavg()[0].toFixed(2)),
    uptime: toolVersion('uptime', '-p'),
  },
  settings: { ...settings, expiryCases: settings.expiryCases.map(([live, due]) => ({ live, due })) },
  versions,
  throughput: rows,
  redis:
    vigilOnRedis === undefined
      ? null
      : {
          redisBenchmark: { ...redisCeiling, runs: redisRuns },
          vigilToExpress: Number((vigilOnRedis.requestsPerSecond / express.requestsPerSecond).toFixed(2)),
          p99: { vigil: vigilOnRedis.p99Ms, express: express.p99Ms },
          memory: redisMemory,
          // Issue 4's target: 3× or more at a p99 no worse.
          targetMet:
            vigilOnRedis.requestsPerSecond >= 3 * express.requestsPerSecond &&
            vigilOnRedis.p99Ms <= express.p99Ms,
        },
  memory: { inProcess, onDisk },
  expiry,
  client,
  websocket,
  notes,
  seconds: Math.round((Date.now() - started) / 1000),
};

const markdown = renderMarkdown(results);
mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.md'), `# Benchmark\n\n${markdown}`);
writeFileSync(join(root, 'bench/results/latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(
  `\n${markdown}\nWritten to bench/results/latest.md and latest.json (${results.seconds} s)\n`,
);

if (args.has('--update-readme')) {
  const readmePath = join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const updated = readme.replace(/(<!-- bench:start -->\n)[\s\S]*?(<!-- bench:end -->)/, `$1${markdown}$2`);
  writeFileSync(readmePath, updated);
  process.stdout.write('README.md benchmark section updated\n');
}

const bad = rows.filter((r) => r.unexpected > 0);
if (bad.length > 0) log(`unexpected answers in: ${bad.map((r) => r.name).join(', ')}`);
// Exits now: the exit hooks stop PostgreSQL and kill whatever is still running.
process.exit(bad.length > 0 ? 1 : 0);

// The stores and nginx started for the run still hold pipes to this process, so it would not end by
// itself; exiting runs the hooks above, which stop every child by its PID.
process.exit(process.exitCode ?? 0);
