// `npm run bench`: heartbeats per second and latency of the service on SQLite, memory and Redis, side
// by side in one run with a bare Fastify route answering 204 (the ceiling) and with Express +
// express-session + connect-redis answering a keepalive on the same Redis (the common setup), plus
// `redis-benchmark`'s own SET/GET figure for that Redis (the store's ceiling); reported as ratios.
// Also bytes per live session in Redis for Vigil and for connect-redis (`INFO memory` used_memory
// before and after creating N sessions through each). Each server, Redis and each load generator run
// in their own process. BENCH_DURATION (s per run, default 5), BENCH_ROUNDS (default 2),
// BENCH_CONNECTIONS (default 32), BENCH_MEMORY_SESSIONS (default 100,000; 10,000 with --short);
// `--short` runs 2 s per target once (CI smoke); `--update-readme` copies the tables into README.md.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const duration = args.has('--short') ? 2 : Number(process.env.BENCH_DURATION ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = args.has('--short') ? 1 : Number(process.env.BENCH_ROUNDS ?? 2);
const SESSIONS = 1000;
const memorySessions = Number(process.env.BENCH_MEMORY_SESSIONS ?? (args.has('--short') ? 10_000 : 100_000));
const apiKey = `bench_${randomBytes(24).toString('base64url')}`;
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
const children = new Set();

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** Starts a server process and resolves with its URL once it prints one. */
function startServer(name, argv, env = {}) {
  const child = spawn(process.execPath, argv, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 15_000);
    const onData = (chunk) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+?)\/? /.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ url, child, stop: () => stop(child) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output}`));
    });
  });
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

function load(url, tokens, seconds, credential = 'bearer') {
  const result = spawnSync(
    process.execPath,
    [
      join(root, 'bench/load.mjs'),
      JSON.stringify({ url, tokens, credential, connections, duration: seconds }),
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.status !== 0) throw new Error(`autocannon failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

/** Runs `makeOne(i)` for i < count, `concurrency` at a time; resolves with the results in order. */
async function forEachIndex(count, makeOne, concurrency = 50) {
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
function createSessions(url, count, subjectPrefix = 'bench') {
  return forEachIndex(count, async (i) => {
    const response = await fetch(`${url}/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: `${subjectPrefix}-${i}` }),
    });
    if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
    return (await response.json()).token;
  });
}

/** express-session sessions, one login each: resolves with their cookies (`connect.sid=…`). */
function loginSessions(url, count, subjectPrefix = 'bench') {
  return forEachIndex(count, async (i) => {
    const response = await fetch(`${url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ subject: `${subjectPrefix}-${i}` }),
    });
    if (response.status !== 201) throw new Error(`login: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('connect.sid='));
    if (cookie === undefined) throw new Error('login: no session cookie');
    return cookie.split(';')[0];
  });
}

// ---- Redis: a server of the bench's own on a free port, driven with redis-cli ---------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function redisCli(port, ...command) {
  const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...command], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`redis-cli ${command.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function hasTool(tool) {
  const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0 ? probe.stdout.trim() : null;
}

/** `redis-server` with persistence off (the bench measures serving, not disks), in a temp dir. */
async function startRedis() {
  const port = await freePort();
  const redisDir = join(dir, 'redis');
  mkdirSync(redisDir);
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir],
    { stdio: 'ignore' },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  for (let i = 0; i < 200; i++) {
    const ping = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], {
      encoding: 'utf8',
    });
    if (ping.stdout?.trim() === 'PONG') return { port, url: `redis://127.0.0.1:${port}`, child };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('redis-server did not answer PING within 10 s');
}

/** Bytes Redis has allocated for data (`used_memory`), after letting lazy frees finish. */
async function usedMemory(port) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return Number(/used_memory:(\d+)/.exec(redisCli(port, 'info', 'memory'))?.[1]);
}

/**
 * Bytes per live session in Redis for one system: used_memory grows by this much per session
 * created through it (a one-session warm-up first, so that loaded scripts and connections are not
 * counted as sessions).
 */
async function bytesPerSession(port, count, create) {
  await create(1, 'warm');
  const before = await usedMemory(port);
  const started = performance.now();
  await create(count, 'mem');
  const seconds = (performance.now() - started) / 1000;
  const after = await usedMemory(port);
  return {
    sessions: count,
    usedMemoryBefore: before,
    usedMemoryAfter: after,
    bytesPerSession: Math.round((after - before) / count),
    createdPerSecond: Math.round(count / seconds),
  };
}

/** `redis-benchmark -p PORT -t set,get -q`: requests per second (and p50) per command. */
function redisBenchmark(port) {
  const result = spawnSync(
    'redis-benchmark',
    ['-h', '127.0.0.1', '-p', String(port), '-t', 'set,get', '-q'],
    {
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`redis-benchmark failed:\n${result.stderr}`);
  const figures = {};
  for (const line of result.stdout.split(/[\r\n]+/)) {
    const match = /^(SET|GET): ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?/.exec(line.trim());
    if (match)
      figures[match[1]] = { requestsPerSecond: Math.round(Number(match[2])), p50Ms: Number(match[3]) };
  }
  if (figures.SET === undefined || figures.GET === undefined) {
    throw new Error(`redis-benchmark: unexpected output:\n${result.stdout}`);
  }
  process.stderr.write(
    `redis-benchmark: SET ${figures.SET.requestsPerSecond} req/s, GET ${figures.GET.requestsPerSecond} req/s\n`,
  );
  return figures;
}

/** One autocannon run against a target; `warmUp` first runs a second that is not counted. */
function measure(target, warmUp) {
  const url = `${target.url}/v1/heartbeat`;
  if (warmUp) load(url, target.tokens, 1, target.credential);
  const r = load(url, target.tokens, duration, target.credential);
  const statuses = Object.fromEntries(
    Object.entries(r.statusCodeStats ?? {}).map(([code, stat]) => [code, Number(stat.count)]),
  );
  const unexpected = Object.entries(statuses)
    .filter(([code]) => Number(code) !== target.expectedStatus)
    .reduce((sum, [, count]) => sum + count, 0);
  const run = {
    requestsPerSecond: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    total: r.requests.total,
    statuses,
    unexpected: unexpected + r.errors + r.timeouts,
  };
  process.stderr.write(
    `${target.name}: ${run.requestsPerSecond} req/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, statuses ${JSON.stringify(statuses)}\n`,
  );
  return run;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

function versionOf(name) {
  for (const base of [
    root,
    join(root, 'packages/server'),
    join(root, 'packages/store-sqlite'),
    join(root, 'packages/store-redis'),
  ]) {
    try {
      return JSON.parse(readFileSync(join(base, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      // not installed there
    }
  }
  return null;
}

process.stderr.write('Building (tsc -b)…\n');
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) process.exit(1);

const configPath = join(dir, 'bench.config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    policies: { default: { idleTimeout: '15m', absoluteTimeout: '8h' } },
    // The per-session limit protects a real deployment; here one session takes every request.
    heartbeatRateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
  }),
);
const vigilArgs = (store) => [
  'packages/cli/bin/vigil.js',
  'serve',
  '--host',
  '127.0.0.1',
  '--port',
  '0',
  '--store',
  store,
  '--config',
  configPath,
  '--log-level',
  'warn',
];

// Other work on the machine skews every row; the load before the run is reported with the results.
const loadBefore = Number(loadavg()[0].toFixed(2));
if (loadBefore > cpus().length / 2) {
  process.stderr.write(
    `warning: load average ${loadBefore} on ${cpus().length} CPUs; figures will be noisy\n`,
  );
}
// All servers run side by side (idle ones cost nothing) and the targets take turns, round after
// round: a burst of other work on the machine then hits every target, not one, and the medians
// and ratios stay comparable.
const bare = await startServer('bare fastify', ['bench/bare-fastify.mjs']);
const targets = [
  // Same request as Vigil's (an Authorization header included), so only the server differs.
  {
    name: 'bare Fastify route (204)',
    url: bare.url,
    tokens: ['vgl_not-checked-by-the-bare-route'],
    expectedStatus: 204,
  },
];
const servers = [bare];
for (const [label, store] of [
  ['SQLite', `sqlite:${join(dir, 'vigil.db')}`],
  ['memory', 'memory'],
]) {
  const vigil = await startServer(`vigil (${label})`, vigilArgs(store), { VIGIL_API_KEY: apiKey });
  servers.push(vigil);
  const tokens = await createSessions(vigil.url, SESSIONS);
  targets.push(
    {
      name: `Vigil heartbeat, ${label}, 1 session`,
      url: vigil.url,
      tokens: tokens.slice(0, 1),
      expectedStatus: 200,
    },
    { name: `Vigil heartbeat, ${label}, ${SESSIONS} sessions`, url: vigil.url, tokens, expectedStatus: 200 },
  );
}

// Redis: Vigil and express-session + connect-redis on one redis-server, started here. Memory per
// session is measured first, on the otherwise empty server (each system's sessions stay live for
// the throughput rounds, as in a real deployment); then the heartbeat targets join the rounds.
const redisVersion = hasTool('redis-server');
const withRedis =
  redisVersion !== null && hasTool('redis-cli') !== null && hasTool('redis-benchmark') !== null;
let redis = null;
let memory = null;
const redisTargets = {};
if (!withRedis) {
  process.stderr.write('warning: redis-server, redis-cli or redis-benchmark missing: Redis rows skipped\n');
} else {
  redis = await startRedis();
  const vigil = await startServer('vigil (Redis)', vigilArgs(redis.url), { VIGIL_API_KEY: apiKey });
  const express = await startServer('express-session', ['bench/express-session.mjs'], {
    REDIS_URL: redis.url,
    SESSION_TTL_S: '900',
  });
  servers.push(vigil, express);
  process.stderr.write(`memory: ${memorySessions} sessions through each system\n`);
  memory = {
    vigil: await bytesPerSession(redis.port, memorySessions, (n, prefix) =>
      createSessions(vigil.url, n, prefix),
    ),
    connectRedis: await bytesPerSession(redis.port, memorySessions, (n, prefix) =>
      loginSessions(express.url, n, prefix),
    ),
  };
  process.stderr.write(
    `memory: Vigil ${memory.vigil.bytesPerSession} B/session, connect-redis ${memory.connectRedis.bytesPerSession} B/session\n`,
  );
  const tokens = await createSessions(vigil.url, SESSIONS);
  const cookies = await loginSessions(express.url, SESSIONS);
  redisTargets.vigil1 = {
    name: 'Vigil heartbeat, Redis, 1 session',
    url: vigil.url,
    tokens: tokens.slice(0, 1),
    expectedStatus: 200,
  };
  redisTargets.vigil = {
    name: `Vigil heartbeat, Redis, ${SESSIONS} sessions`,
    url: vigil.url,
    tokens,
    expectedStatus: 200,
  };
  redisTargets.express1 = {
    name: 'express-session + connect-redis keepalive, 1 session',
    url: express.url,
    tokens: cookies.slice(0, 1),
    credential: 'cookie',
    expectedStatus: 200,
  };
  redisTargets.express = {
    name: `express-session + connect-redis keepalive, ${SESSIONS} sessions`,
    url: express.url,
    tokens: cookies,
    credential: 'cookie',
    expectedStatus: 200,
  };
  targets.push(redisTargets.vigil1, redisTargets.vigil, redisTargets.express1, redisTargets.express);
}

const runs = new Map(targets.map((target) => [target, []]));
const redisRuns = [];
for (let round = 0; round < rounds; round++) {
  process.stderr.write(`round ${round + 1} of ${rounds}\n`);
  for (const target of targets) runs.get(target).push(measure(target, round === 0));
  if (redis !== null) redisRuns.push(redisBenchmark(redis.port));
}
await Promise.all(servers.map((server) => server.stop()));
if (redis !== null) redis.child.kill('SIGKILL');

const rows = targets.map((target) => {
  const all = runs.get(target);
  return {
    name: target.name,
    requestsPerSecond: Math.round(median(all.map((r) => r.requestsPerSecond))),
    p50Ms: median(all.map((r) => r.p50Ms)),
    p99Ms: median(all.map((r) => r.p99Ms)),
    expectedStatus: target.expectedStatus,
    unexpected: all.reduce((sum, r) => sum + r.unexpected, 0),
    runs: all,
  };
});

const baseline = rows[0].requestsPerSecond;
for (const row of rows) row.ratioToBare = Number((row.requestsPerSecond / baseline).toFixed(2));
const rowOf = (target) => rows[targets.indexOf(target)];

let redisComparison = null;
if (redis !== null) {
  const ceiling = {
    SET: Math.round(median(redisRuns.map((r) => r.SET.requestsPerSecond))),
    GET: Math.round(median(redisRuns.map((r) => r.GET.requestsPerSecond))),
  };
  const vigil = rowOf(redisTargets.vigil);
  const express = rowOf(redisTargets.express);
  const vigil1 = rowOf(redisTargets.vigil1);
  const express1 = rowOf(redisTargets.express1);
  redisComparison = {
    redisBenchmark: { ...ceiling, runs: redisRuns },
    vigilToExpress: Number((vigil.requestsPerSecond / express.requestsPerSecond).toFixed(2)),
    vigilToExpressOneSession: Number((vigil1.requestsPerSecond / express1.requestsPerSecond).toFixed(2)),
    p99: { vigil: vigil.p99Ms, express: express.p99Ms },
    vigilToRedisSet: Number((vigil.requestsPerSecond / ceiling.SET).toFixed(3)),
    expressToRedisSet: Number((express.requestsPerSecond / ceiling.SET).toFixed(3)),
    memory,
    // Issue 4's target: 3× or more at a p99 no worse.
    targetMet: vigil.requestsPerSecond >= 3 * express.requestsPerSecond && vigil.p99Ms <= express.p99Ms,
  };
}

const cpu = cpus();
const environment = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}`,
  loadAverageBefore: loadBefore,
  durationSeconds: duration,
  rounds,
  connections,
  versions: {
    node: process.version,
    fastify: versionOf('fastify'),
    'better-sqlite3': versionOf('better-sqlite3'),
    autocannon: versionOf('autocannon'),
    ioredis: versionOf('ioredis'),
    'redis-server': redisVersion === null ? null : (/v=(\S+)/.exec(redisVersion)?.[1] ?? redisVersion),
    express: versionOf('express'),
    'express-session': versionOf('express-session'),
    'connect-redis': versionOf('connect-redis'),
    redis: versionOf('redis'),
  },
};

const fmt = (n) => n.toLocaleString('en-US');
const table = [
  '| target | requests/s | p50 (ms) | p99 (ms) | ratio to bare Fastify | unexpected answers |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${fmt(r.requestsPerSecond)} | ${r.p50Ms} | ${r.p99Ms} | ${r.ratioToBare.toFixed(2)} | ${r.unexpected} |`,
  ),
].join('\n');

let redisSection = '';
if (redisComparison !== null) {
  const c = redisComparison;
  const v = environment.versions;
  const verdict = c.targetMet
    ? 'met'
    : `not met (${c.vigilToExpress}×${c.p99.vigil <= c.p99.express ? '' : `, p99 ${c.p99.vigil} ms vs ${c.p99.express} ms`})`;
  redisSection = `
**Redis** (one \`redis-server\` ${v['redis-server']}, persistence off, shared by both systems):

| | Vigil on Redis | express-session + connect-redis | Vigil ÷ express-session |
|---|---:|---:|---:|
| heartbeats/s, ${SESSIONS} sessions | ${fmt(rowOf(redisTargets.vigil).requestsPerSecond)} | ${fmt(rowOf(redisTargets.express).requestsPerSecond)} | ${c.vigilToExpress.toFixed(2)} |
| p99 (ms), ${SESSIONS} sessions | ${c.p99.vigil} | ${c.p99.express} | |
| heartbeats/s, 1 session | ${fmt(rowOf(redisTargets.vigil1).requestsPerSecond)} | ${fmt(rowOf(redisTargets.express1).requestsPerSecond)} | ${c.vigilToExpressOneSession.toFixed(2)} |
| share of \`redis-benchmark\` SET (${fmt(c.redisBenchmark.SET)}/s; GET ${fmt(c.redisBenchmark.GET)}/s) | ${(c.vigilToRedisSet * 100).toFixed(1)} % | ${(c.expressToRedisSet * 100).toFixed(1)} % | |
| bytes per live session in Redis (${fmt(c.memory.vigil.sessions)} sessions) | ${fmt(c.memory.vigil.bytesPerSession)} | ${fmt(c.memory.connectRedis.bytesPerSession)} | ${(c.memory.vigil.bytesPerSession / c.memory.connectRedis.bytesPerSession).toFixed(2)} |
| sessions created/s (while measuring memory) | ${fmt(c.memory.vigil.createdPerSecond)} | ${fmt(c.memory.connectRedis.createdPerSecond)} | ${(c.memory.vigil.createdPerSecond / c.memory.connectRedis.createdPerSecond).toFixed(2)} |

Target (issue 4: 3× express-session + connect-redis or more, at a p99 no worse): **${verdict}**.
`;
}

const markdown = `${table}
${redisSection}
- Each row: \`POST /v1/heartbeat\` \`{"state":"active"}\`, autocannon ${environment.versions.autocannon}, ${connections} connections,
  ${duration} s per run, the median of ${rounds} run(s) taken in turns with the other rows (after a 1 s warm-up);
  servers, Redis and load generator in separate processes on the same machine.
- "1 session" sends every heartbeat with one token: touches coalesce (\`touchGranularity\`), so few writes.
  "${SESSIONS} sessions" rotates through ${SESSIONS} tokens: nearly every heartbeat moves a deadline by more than the
  granularity and is written — the realistic case, since real clients send one heartbeat per \`heartbeatInterval\`.
- Vigil runs with \`--log-level warn\` (no per-request log lines) and \`heartbeatRateLimit\` raised; the bare route
  has no logger and ignores the (parsed) body and the Authorization header.${
    redisComparison === null
      ? '\n- Redis rows skipped: `redis-server`, `redis-cli` or `redis-benchmark` is not installed.'
      : `
- express-session ${environment.versions['express-session']} + connect-redis ${environment.versions['connect-redis']} (redis client ${environment.versions.redis}) on Express ${environment.versions.express}
  (\`bench/express-session.mjs\`): cookie sessions, \`resave: false\`, \`rolling: true\`, \`saveUninitialized: false\`; the keepalive
  calls \`req.session.touch()\` and answers 200 (a GET and an EXPIRE in Redis, a new Set-Cookie); sessions made by a login
  beforehand, the cookie sent with each request. Vigil on Redis: \`vigil serve --store redis://…\` (ioredis ${environment.versions.ioredis}).
- Memory: \`INFO memory\` used_memory before and after creating ${fmt(memorySessions)} sessions through each system's HTTP
  API (one subject per session), divided by the count; Vigil's figure includes its expiry, warning and subject indexes.
  \`redis-benchmark -t set,get -q\` (50 clients, no pipelining) on the same server, in turns with the rows, is the ceiling.`
  }
- Node ${process.version}, Fastify ${environment.versions.fastify}, better-sqlite3 ${environment.versions['better-sqlite3']},
  ${environment.cpu} (load average ${loadBefore} before the run), ${environment.date.slice(0, 10)}.
`;

mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.md'), `# Benchmark: heartbeats\n\n${markdown}`);
writeFileSync(
  join(root, 'bench/results/latest.json'),
  `${JSON.stringify({ ...environment, results: rows, redis: redisComparison }, null, 2)}\n`,
);
process.stdout.write(`\n${markdown}\nWritten to bench/results/latest.md and latest.json\n`);

if (args.has('--update-readme')) {
  const readmePath = join(root, 'README.md');
  const readme = readFileSync(readmePath, 'utf8');
  const updated = readme.replace(/(<!-- bench:start -->\n)[\s\S]*?(<!-- bench:end -->)/, `$1${markdown}$2`);
  writeFileSync(readmePath, updated);
  process.stdout.write('README.md benchmark section updated\n');
}

const bad = rows.filter((r) => r.unexpected > 0);
if (bad.length > 0) {
  process.stderr.write(`unexpected answers in: ${bad.map((r) => r.name).join(', ')}\n`);
  process.exitCode = 1;
}
