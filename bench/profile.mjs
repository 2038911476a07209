// Where a heartbeat's time goes: starts `vigil serve` under `node --cpu-prof`, creates sessions,
// drives heartbeats at it with the bench's load generator (wrk, else autocannon; its own process), stops the server and
// prints the functions and packages that took the most CPU (self time), from the .cpuprofile.
//
//   node bench/profile.mjs [--store memory|sqlite|redis://H:P] [--sessions N] [--seconds S]
//                          [--path /v1/heartbeat|/v1/authorize] [--keep DIR] [--bare]
//
// Not part of `npm run bench`: a tool for whoever works on the hot path. `--keep DIR` leaves the
// .cpuprofile there (open it in Chrome DevTools or speedscope). `--bare` profiles bench/bare-fastify.mjs
// instead (the ceiling), for comparison. `--cpu-only` runs without the profiler and prints only the
// throughput and the server's CPU time per request (user + system, from /proc): on a shared machine
// that figure moves far less with other work than requests per second do. `--script FILE` runs FILE
// (argv: the store spec; env: VIGIL_API_KEY; it prints "listening on URL ") instead of `vigil serve`,
// for trying a variant of the server. `--touch-granularity D` (default `0ms`: every beat written, as in
// `npm run bench`; `1s` for coalesced touches).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateLoad } from './lib/load-generator.mjs';
import { vigilServeArgs } from './lib/vigil-args.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'memory' },
    sessions: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
    connections: { type: 'string', default: '32' },
    path: { type: 'string', default: '/v1/heartbeat' },
    keep: { type: 'string' },
    top: { type: 'string', default: '40' },
    bare: { type: 'boolean', default: false },
    script: { type: 'string' },
    'cpu-only': { type: 'boolean', default: false },
    'touch-granularity': { type: 'string', default: '0ms' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'vigil-profile-'));
const profileDir = values.keep ?? join(dir, 'profile');
mkdirSync(profileDir, { recursive: true });
const apiKey = `bench_${randomBytes(24).toString('base64url')}`;
const configPath = join(dir, 'config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    policies: {
      default: { idleTimeout: '15m', absoluteTimeout: '8h', touchGranularity: values['touch-granularity'] },
    },
    heartbeatRateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
  }),
);
const store = values.store === 'sqlite' ? `sqlite:${join(dir, 'vigil.db')}` : values.store;
const server = spawn(
  process.execPath,
  [
    ...(values['cpu-only'] ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]),
    ...(values.bare
      ? ['bench/bare-fastify.mjs']
      : values.script
        ? [values.script, store]
        : vigilServeArgs(store, configPath)),
  ],
  { cwd: root, env: { ...process.env, VIGIL_API_KEY: apiKey }, stdio: ['ignore', 'pipe', 'pipe'] },
);
let output = '';
const url = await new Promise((resolve, reject) => {
  const onData = (chunk) => {
    output += chunk;
    const found = /listening on (http:\/\/\S+?)\/? /.exec(output)?.[1];
    if (found) resolve(found);
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.on('exit', (code) => reject(new Error(`server exited (${code}):\n${output}`)));
});

const tokens = values.bare ? ['vgl_not-checked-by-the-bare-route'] : [];
for (let i = 0; !values.bare && i < Number(values.sessions); i++) {
  const response = await fetch(`${url}/v1/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ subject: `profile-${i}` }),
  });
  tokens.push((await response.json()).token);
}
const method = values.path === '/v1/authorize' ? 'GET' : 'POST';
const cpuBefore = cpuMicros(server.pid);
const result = generateLoad({
  url: `${url}${values.path}`,
  method,
  tokens,
  connections: Number(values.connections),
  duration: Number(values.seconds),
});
const cpuAfter = cpuMicros(server.pid);
const cpuPerRequest = (cpuAfter.total - cpuBefore.total) / result.total;
const systemPerRequest = (cpuAfter.system - cpuBefore.system) / result.total;
await new Promise((resolve) => {
  server.once('exit', resolve);
  server.kill('SIGTERM');
});
process.stdout.write(
  `${values.path} on ${values.store}: ${result.requestsPerSecond} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, server CPU ${cpuPerRequest.toFixed(1)} µs/request (${systemPerRequest.toFixed(1)} in the kernel)${values['cpu-only'] ? '' : ' (profiler on)'}, statuses ${JSON.stringify(result.statuses)}\n`,
);

if (values['cpu-only']) {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
const file = readdirSync(profileDir).find((name) => name.endsWith('.cpuprofile'));
if (file === undefined) throw new Error('no .cpuprofile written');
const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8'));
printProfile(profile, Number(values.top));
if (values.keep === undefined) rmSync(dir, { recursive: true, force: true });
else process.stdout.write(`profile kept: ${join(profileDir, file)}\n`);

/** CPU time a process has used (user, system and both), in µs, from /proc (Linux; 100 ticks/s). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const user = (Number(fields[11]) * 1_000_000) / 100;
  const system = (Number(fields[12]) * 1_000_000) / 100;
  return { user, system, total: user + system };
}

/** Self time per function and per package (node_modules/<name> or our packages/<name>). */
function printProfile({ nodes, samples, timeDeltas }, top) {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (let i = 0; i < samples.length; i++) {
    self.set(samples[i], (self.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map();
  const packages = new Map();
  for (const [id, micros] of self) {
    const { callFrame } = byId.get(id);
    const where = callFrame.url.replace(/^file:\/\//, '').replace(root, '');
    const key = `${callFrame.functionName || '(anonymous)'} ${where}:${callFrame.lineNumber + 1}`;
    functions.set(key, (functions.get(key) ?? 0) + micros);
    const pkg =
      /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where)?.[1] ??
      /packages\/([^/]+)/.exec(where)?.[1] ??
      (where.startsWith('node:') ? 'node:internal' : callFrame.functionName || '(native)');
    packages.set(pkg, (packages.get(pkg) ?? 0) + micros);
  }
  const show = (title, map, limit) => {
    process.stdout.write(`\n${title}\n`);
    for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
      process.stdout.write(`${((100 * micros) / total).toFixed(1).padStart(5)} %  ${key}\n`);
    }
  };
  // Inclusive time: a sample counts once for every distinct function on its stack.
  const parent = new Map();
  for (const node of nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inclusive = new Map();
  const keyOf = (node) => {
    const where = node.callFrame.url.replace(/^file:\/\//, '').replace(root, '');
    return `${node.callFrame.functionName || '(anonymous)'} ${where}:${node.callFrame.lineNumber + 1}`;
  };
  for (const [id, micros] of self) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = keyOf(byId.get(at));
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
    }
  }
  show('self time by package', packages, 25);
  show('self time by function', functions, top);
  const ours = new Map([...inclusive].filter(([key]) => / (packages|node_modules)\//.test(key)));
  show('inclusive time, our packages and dependencies', ours, top);
}
