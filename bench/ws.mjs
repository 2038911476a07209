// The WebSocket figures of the bench (issue 7: "heartbeats per second over one socket per session
// beside HTTP, and memory per open socket at 10,000 sockets"), run by bench/run.mjs as
// `node bench/ws.mjs '{"short", "seconds", "connections"}'`; the last stdout line is the JSON result
// (`{rows, comparisons, memory, settings, versions, notes}`), progress goes to stderr.
//
// Every process is separate, on loopback: the Vigil server (`vigil serve`, as bench/run.mjs starts
// it), the bench's load generator (wrk, else autocannon) for HTTP, bench/ws-client.mjs for the sockets.
//
// - Throughput, per store (SQLite; the full run adds memory): `connections` sessions, one server
//   process per store; HTTP is `POST /v1/heartbeat`
//   `{"state":"active"}` from `connections` keep-alive connections over those sessions, WebSocket is
//   one `/v1/ws` socket per session sending `{"type":"heartbeat","state":"active"}`; both keep one
//   heartbeat in flight per connection, so the concurrency is the same. Each counted run follows an
//   uncounted second over the same transport (both modes). HTTP runs first, then WebSocket, on the
//   same server, in one round (run.mjs's main table takes medians of rounds; this does not).
//   (`touchGranularity` 0, as in the main table). Heartbeats/s, p50/p99 and the server's CPU per beat
//   (from /proc around the counted window). One socket heartbeat is exactly an HTTP one inside the
//   server (`acceptHeartbeat`: same rate-limit bucket, same touch), so the difference is transport.
// - Memory per open connection: a fresh server (memory store) with 10,000 sessions (`--short`:
//   1,000) opened before the baseline; RSS (/proc VmRSS) and heap + external, each after a full GC
//   (bench/ws-gc-probe.mjs, preloaded), before and after 10,000 idle authenticated sockets held by
//   client processes of their own; the same on another fresh server for 10,000 idle keep-alive HTTP
//   connections that each had one `GET /v1/session` answered. The growth divided by the count.
//
// Limits met on the way, and what is done about them: the per-session heartbeat rate limit (10 burst,
// 1/s by default — the same bucket serves HTTP and WebSocket) is raised in the config, as run.mjs
// does; a socket may queue 32 messages and a session may hold 10 sockets (neither configurable from
// the CLI, neither reached: one beat in flight, one socket per session); file descriptors: the
// socket count is capped below `ulimit -n` (read from /proc) and the client sockets are spread over
// processes of at most 5,000 each.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadGenerator } from './lib/load-generator.mjs';
import { loadOnce, measure } from './lib/measure.mjs';
import { cpuMicros, root, sleep, startServer, stop, track, versionOf, workDir } from './lib/processes.mjs';
import { vigilServeArgs } from './lib/vigil-args.mjs';

const job = JSON.parse(process.argv[2] ?? '{}');
const short = job.short ?? false;
const seconds = job.seconds ?? (short ? 2 : 5);
const connections = job.connections ?? 32;
// Uncounted seconds before each counted run, over the same transport, in `--short` too: a fresh
// server spends its first few seconds of HTTP load compiling and sizing its heap (measured here:
// 2-5× the CPU per request of the runs after it; one second was not always enough), and the
// transport measured first would pay for that.
const warmUpSeconds = 2;
const SOCKETS_PER_CLIENT_PROCESS = 5_000;
const started = Date.now();
const loadAverageBefore = Number(loadavg()[0].toFixed(2));
const log = (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
const notes = [];

// Whatever goes wrong, this run ends: the exit hooks of processes.mjs kill every child by its PID.
const deadlineSeconds = short ? 60 : 180;
setTimeout(() => {
  log(`bench/ws.mjs: still running after ${deadlineSeconds} s, stopping`);
  process.exit(1);
}, deadlineSeconds * 1000).unref();

const openFilesLimit = (() => {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
})();
const wantedIdle = short ? 1_000 : 10_000;
// The server holds one descriptor per connection and needs some of its own (store, logs, listener).
const idleConnections = Math.min(wantedIdle, openFilesLimit - 256);
if (idleConnections < wantedIdle) {
  notes.push(
    `open files limited to ${openFilesLimit} (ulimit -n): ${idleConnections} idle connections, not ${wantedIdle}`,
  );
}

const apiKey = `bench_${randomBytes(24).toString('base64url')}`;
const configPath = join(workDir, 'ws-bench.config.json');
writeFileSync(
  configPath,
  JSON.stringify({
    policies: { default: { idleTimeout: '15m', absoluteTimeout: '8h', touchGranularity: '0ms' } },
    // The per-session limit protects a real deployment; here one session takes many beats a second,
    // over HTTP and over its socket alike (one bucket per session for both).
    heartbeatRateLimit: { burst: 1_000_000, perSecond: 1_000_000 },
  }),
);

/** `vigil serve` on a free loopback port; `probe` preloads the GC/memory probe. */
function vigil(label, store, { probe = false } = {}) {
  const nodeArgs = probe ? ['--expose-gc', '--import', './bench/ws-gc-probe.mjs'] : [];
  return startServer(`vigil (${label})`, [...nodeArgs, ...vigilServeArgs(store, configPath)], {
    VIGIL_API_KEY: apiKey,
  });
}

/** SIGTERM, then SIGKILL if it has not gone within 3 s (shutdown waits for sockets up to 1 s). */
async function stopServer(server) {
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 3000);
  await stop(server.child);
  clearTimeout(timer);
}

/** `count` sessions, one subject each, 64 created at a time: resolves with their tokens. */
async function createSessions(url, count, prefix) {
  const tokens = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(64, count) }, async () => {
      while (next < count) {
        const i = next++;
        const response = await fetch(`${url}/v1/sessions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject: `${prefix}-${i}`, policy: 'default' }),
        });
        if (response.status !== 201) throw new Error(`create: ${response.status} ${await response.text()}`);
        tokens[i] = (await response.json()).token;
      }
    }),
  );
  return tokens;
}

let tokenFiles = 0;
/**
 * Starts bench/ws-client.mjs. `onEvent` sees each progress line and `waitFor(name)` resolves with
 * the first line of that event (rejects if the client ends first); `result` resolves with the last
 * line once it exits 0; `command()` writes a line to its stdin and `release()` closes it, which ends
 * a `hold-*` client.
 */
function startClient(clientJob, tokens, onEvent = () => {}) {
  const tokensFile = join(workDir, `ws-tokens-${tokenFiles++}.json`);
  writeFileSync(tokensFile, JSON.stringify(tokens));
  const child = track(
    spawn(
      process.execPath,
      [join(root, 'bench/ws-client.mjs'), JSON.stringify({ ...clientJob, tokensFile })],
      { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
    ),
  );
  let last = null;
  const seen = new Map();
  const waiters = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const value = JSON.parse(line);
    if (value.event === undefined) {
      last = value;
      return;
    }
    if (!seen.has(value.event)) seen.set(value.event, value);
    for (const waiter of waiters.filter((w) => w.name === value.event)) waiter.resolve(value);
    onEvent(value);
  });
  const result = new Promise((resolve, reject) => {
    // `close`, not `exit`: the last stdout line may still be in the pipe when the process exits.
    child.on('close', (code, signal) => {
      const ended = new Error(`bench/ws-client.mjs (${clientJob.mode}) exited ${code ?? signal}`);
      for (const waiter of waiters) waiter.reject(ended);
      if (code === 0 && last !== null) resolve(last);
      else reject(ended);
    });
  });
  result.catch(() => {}); // whoever waits for it sees the failure; nobody else must crash on it
  const waitFor = (name) =>
    seen.has(name)
      ? Promise.resolve(seen.get(name))
      : new Promise((resolve, reject) => waiters.push({ name, resolve, reject }));
  return {
    result,
    waitFor,
    command: (line) => child.stdin.write(`${line}\n`),
    release: () => child.stdin.end(),
  };
}

const serverCpu = (server) => cpuMicros(server.child.pid);
const perBeat = (cpu, total) => (cpu === null || total === 0 ? null : Math.round(cpu / total));

/** One WebSocket throughput row: `tokens.length` sockets, one heartbeat in flight each. */
async function wsLoad(name, server, tokens) {
  let cpuStart = null;
  let cpuEnd = null;
  const client = startClient(
    {
      mode: 'load',
      url: `${server.url.replace(/^http/, 'ws')}/v1/ws`,
      state: 'active',
      warmUpSeconds,
      seconds,
      maxSeconds: warmUpSeconds + seconds + 30,
    },
    tokens,
    (event) => {
      if (event.event === 'counting') cpuStart = serverCpu(server);
      if (event.event === 'counted') cpuEnd = serverCpu(server);
    },
  );
  const result = await client.result;
  const cpu = cpuStart === null || cpuEnd === null ? null : cpuEnd - cpuStart;
  const row = {
    name,
    transport: 'websocket',
    messagesPerSecond: result.messagesPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    total: result.total,
    serverCpuMicrosPerBeat: perBeat(cpu, result.total),
    unexpected: result.unexpected,
  };
  log(
    `  ${name}: ${row.messagesPerSecond} msg/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ` +
      `server CPU ${row.serverCpuMicrosPerBeat ?? '?'} µs/beat, unexpected ${row.unexpected}` +
      (result.unexpected > 0 ? ` ${JSON.stringify(result.failures)}` : ''),
  );
  return row;
}

async function httpLoad(name, server, tokens) {
  const target = {
    name,
    url: server.url,
    path: '/v1/heartbeat',
    tokens,
    expectedStatus: 200,
    pids: () => [server.child.pid],
  };
  loadOnce(target, warmUpSeconds, connections);
  const run = measure(target, { seconds, connections, warmUp: false });
  return {
    name,
    transport: 'http',
    requestsPerSecond: run.requestsPerSecond,
    p50Ms: run.p50Ms,
    p99Ms: run.p99Ms,
    total: run.total,
    serverCpuMicrosPerBeat: run.serverCpuMicrosPerRequest,
    unexpected: run.unexpected,
  };
}

// ---- memory ------------------------------------------------------------------------------------

const vmRss = (pid) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const openDescriptors = (pid) => readdirSync(`/proc/${pid}/fd`).length;

/** The server's memory after a full GC: asks the preloaded probe, then reads VmRSS from /proc. */
function memoryOf(server) {
  const { child } = server;
  return new Promise((resolve, reject) => {
    let text = '';
    const off = () => {
      clearTimeout(timer);
      child.stderr.off('data', onData);
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error('the memory probe did not answer'));
    }, 10_000);
    const onData = (chunk) => {
      text += chunk;
      const found = /vigil-bench-memory (\{.*\})\n/.exec(text);
      if (found === null) return;
      off();
      const { heapUsed, external } = JSON.parse(found[1]);
      resolve({
        rss: vmRss(child.pid),
        heapAndExternal: heapUsed + external,
        descriptors: openDescriptors(child.pid),
      });
    };
    child.stderr.on('data', onData);
    child.kill('SIGUSR2');
  });
}

/**
 * Client processes (at most `SOCKETS_PER_CLIENT_PROCESS` connections each) for `tokens`: each
 * resolves `warmed` after opening and closing its warm-up share; `open()` then opens them all and
 * resolves once every connection is authenticated and idle; `release()` ends the clients.
 */
async function idleClients(mode, url, tokens) {
  const processes = Math.ceil(tokens.length / SOCKETS_PER_CLIENT_PROCESS);
  const share = Math.ceil(tokens.length / processes);
  const warmUp = Math.min(200, Math.ceil(tokens.length / 10));
  const clients = Array.from({ length: processes }, (_, i) =>
    startClient(
      { mode, url, warmUp: i === 0 ? warmUp : 0, maxSeconds: 120 },
      tokens.slice(i * share, (i + 1) * share),
    ),
  );
  await Promise.all(clients.map((c) => c.waitFor('warmed')));
  return {
    processes,
    async open() {
      for (const c of clients) c.command('open');
      const ready = await Promise.all(clients.map((c) => c.waitFor('ready')));
      const failures = {};
      for (const r of ready) {
        for (const [reason, n] of Object.entries(r.failures)) failures[reason] = (failures[reason] ?? 0) + n;
      }
      return {
        open: ready.reduce((sum, r) => sum + r.open, 0),
        failed: ready.reduce((sum, r) => sum + r.failed, 0),
        failures,
      };
    },
    async release() {
      for (const c of clients) c.release();
      await Promise.all(clients.map((c) => c.result.catch(() => null)));
    },
  };
}

/** A fresh server (memory store, memory probe) with `idleConnections` sessions. */
async function idleServer(mode) {
  const server = await vigil(`memory, ${mode}`, 'memory', { probe: true });
  return { server, tokens: await createSessions(server.url, idleConnections, mode) };
}

/** Memory per idle connection of `mode` (`hold-ws` or `hold-http`) on a server of `idleServer`. */
async function idleMemory(mode, { server, tokens }) {
  const url = mode === 'hold-ws' ? `${server.url.replace(/^http/, 'ws')}/v1/ws` : server.url;
  const clients = await idleClients(mode, url, tokens);
  try {
    await sleep(200); // the server's side of the warm-up connections closed and collected
    const before = await memoryOf(server);
    const held = await clients.open();
    const after = await memoryOf(server);
    const count = held.open;
    const result = {
      connections: count,
      failed: held.failed,
      ...(held.failed > 0 && { failures: held.failures }),
      clientProcesses: clients.processes,
      serverDescriptorsAdded: after.descriptors - before.descriptors,
      rssBeforeBytes: before.rss,
      rssAfterBytes: after.rss,
      rssBytesPerConnection: count === 0 ? null : Math.round((after.rss - before.rss) / count),
      heapBytesPerConnection:
        count === 0 ? null : Math.round((after.heapAndExternal - before.heapAndExternal) / count),
    };
    log(
      `  ${mode}: ${count} open (${held.failed} failed), server RSS ${(before.rss / 2 ** 20).toFixed(1)} → ` +
        `${(after.rss / 2 ** 20).toFixed(1)} MiB: ${result.rssBytesPerConnection} B RSS, ` +
        `${result.heapBytesPerConnection} B heap + external per connection`,
    );
    return result;
  } finally {
    await clients.release();
    await stopServer(server);
  }
}

// ---- the run -----------------------------------------------------------------------------------

async function main() {
  const rows = [];
  const comparisons = [];
  // `--short` keeps to SQLite, the embedded default, to stay within its time; the full run adds the
  // memory store, where the store costs least and the transport's share shows most.
  const sqlite = ['SQLite', `sqlite:${join(workDir, 'ws-bench.db')}`];
  const stores = short ? [sqlite] : [['memory', 'memory'], sqlite];
  for (const [label, store] of stores) {
    log(`WebSocket bench, ${label} store: ${connections} sessions…`);
    const server = await vigil(label, store);
    try {
      const tokens = await createSessions(server.url, connections, 'throughput');
      const http = await httpLoad(`HTTP \`POST /v1/heartbeat\` (${label})`, server, tokens);
      const ws = await wsLoad(`WebSocket \`/v1/ws\` heartbeat (${label})`, server, tokens);
      rows.push({ ...http, store: label }, { ...ws, store: label });
      comparisons.push({
        store: label,
        throughput: Number((ws.messagesPerSecond / http.requestsPerSecond).toFixed(2)),
        serverCpuPerBeat:
          ws.serverCpuMicrosPerBeat === null || !http.serverCpuMicrosPerBeat
            ? null
            : Number((ws.serverCpuMicrosPerBeat / http.serverCpuMicrosPerBeat).toFixed(2)),
      });
    } finally {
      await stopServer(server);
    }
  }

  log(`Memory per idle connection: ${idleConnections} WebSocket, then ${idleConnections} HTTP keep-alive…`);
  // Both servers are set up at once (only the time of the run depends on it: no figure here is
  // a speed), then measured one after the other.
  const [wsServer, httpServer] = await Promise.all([idleServer('hold-ws'), idleServer('hold-http')]);
  const websocket = await idleMemory('hold-ws', wsServer);
  const http = await idleMemory('hold-http', httpServer);
  const ratio = (a, b) => (a === null || b === null || b === 0 ? null : Number((a / b).toFixed(2)));

  return {
    rows,
    comparisons,
    memory: {
      websocket,
      http,
      wsToHttp: {
        rss: ratio(websocket.rssBytesPerConnection, http.rssBytesPerConnection),
        heap: ratio(websocket.heapBytesPerConnection, http.heapBytesPerConnection),
      },
    },
    settings: { short, seconds, warmUpSeconds, connections, idleConnections, openFilesLimit },
    machine: { cpus: cpus().length, loadAverageBefore, loadAverageAfter: Number(loadavg()[0].toFixed(2)) },
    versions: {
      ws: versionOf('ws'),
      '@fastify/websocket': versionOf('@fastify/websocket'),
      loadGenerator: `${loadGenerator().name} ${loadGenerator().version}`,
    },
    notes,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

try {
  const result = await main();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The exit hooks (processes.mjs) kill whatever is still running, by PID.
  process.exit(0);
} catch (error) {
  log(`bench/ws.mjs failed: ${error.stack ?? error}`);
  process.exit(1);
}
