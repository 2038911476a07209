// `npm run bench`: heartbeats per second and latency of the SQLite-backed service, side by side with
// a bare Fastify route answering 204 in the same run, reported as a ratio. Each server and each load
// generator runs in its own process. BENCH_DURATION (s per run, default 5), BENCH_ROUNDS (default 2),
// BENCH_CONNECTIONS (default 32);
// `--short` runs 2 s per target (CI smoke); `--update-readme` copies the table into README.md.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const duration = args.has('--short') ? 2 : Number(process.env.BENCH_DURATION ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const rounds = args.has('--short') ? 1 : Number(process.env.BENCH_ROUNDS ?? 2);
const SESSIONS = 1000;
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

function load(url, tokens, seconds) {
  const result = spawnSync(
    process.execPath,
    [join(root, 'bench/load.mjs'), JSON.stringify({ url, tokens, connections, duration: seconds })],
    { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (result.status !== 0) throw new Error(`autocannon failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function createSessions(url, count) {
  const tokens = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, (_, j) =>
        fetch(`${url}/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject: `bench-${i + j}` }),
        }).then(async (response) => {
          if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
          return (await response.json()).token;
        }),
      ),
    );
    tokens.push(...batch);
  }
  return tokens;
}

/** One autocannon run against a target; `warmUp` first runs a second that is not counted. */
function measure(target, warmUp) {
  const url = `${target.url}/v1/heartbeat`;
  if (warmUp) load(url, target.tokens, 1);
  const r = load(url, target.tokens, duration);
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
  for (const base of [root, join(root, 'packages/server'), join(root, 'packages/store-sqlite')]) {
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
const runs = new Map(targets.map((target) => [target, []]));
for (let round = 0; round < rounds; round++) {
  process.stderr.write(`round ${round + 1} of ${rounds}\n`);
  for (const target of targets) runs.get(target).push(measure(target, round === 0));
}
await Promise.all(servers.map((server) => server.stop()));

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
  },
};

const table = [
  '| target | requests/s | p50 (ms) | p99 (ms) | ratio to bare Fastify | unexpected answers |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.requestsPerSecond.toLocaleString('en-US')} | ${r.p50Ms} | ${r.p99Ms} | ${r.ratioToBare.toFixed(2)} | ${r.unexpected} |`,
  ),
].join('\n');
const markdown = `${table}

- Each row: \`POST /v1/heartbeat\` \`{"state":"active"}\`, autocannon ${environment.versions.autocannon}, ${connections} connections,
  ${duration} s per run, the median of ${rounds} run(s) taken in turns with the other rows (after a 1 s warm-up);
  servers and load generator in separate processes on the same machine.
- "1 session" sends every heartbeat with one token: touches coalesce (\`touchGranularity\`), so few writes.
  "${SESSIONS} sessions" rotates through ${SESSIONS} tokens: nearly every heartbeat moves a deadline by more than the
  granularity and is written — the realistic case, since real clients send one heartbeat per \`heartbeatInterval\`.
- Vigil runs with \`--log-level warn\` (no per-request log lines) and \`heartbeatRateLimit\` raised; the bare route
  has no logger and ignores the (parsed) body and the Authorization header.
- Node ${process.version}, Fastify ${environment.versions.fastify}, better-sqlite3 ${environment.versions['better-sqlite3']},
  ${environment.cpu} (load average ${loadBefore} before the run), ${environment.date.slice(0, 10)}.
`;

mkdirSync(join(root, 'bench/results'), { recursive: true });
writeFileSync(join(root, 'bench/results/latest.md'), `# Benchmark: heartbeats\n\n${markdown}`);
writeFileSync(
  join(root, 'bench/results/latest.json'),
  `${JSON.stringify({ ...environment, results: rows }, null, 2)}\n`,
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
