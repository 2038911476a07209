// One throughput row: the load generator (wrk, else autocannon; a process of its own) against a target, with the
// server's CPU time per request read from /proc around the run. On a machine shared with other work
// requests per second move with that work; CPU per request moves far less, so both are reported.
import { generateLoad } from './load-generator.mjs';
import { cpuMicros } from './processes.mjs';

/**
 * A target: `{ name, url, path, method?, tokens, credential?, headers?, expectedStatus, pids? }`,
 * where `pids` are the processes whose CPU counts as the server's (Vigil, and nginx's when in front).
 */
export function loadOnce(target, seconds, connections) {
  const job = {
    url: `${target.url}${target.path}`,
    method: target.method ?? 'POST',
    tokens: target.tokens,
    credential: target.credential ?? 'bearer',
    headers: target.headers ?? {},
    connections,
    duration: seconds,
  };
  const before = serverCpu(target);
  const result = generateLoad(job);
  const after = serverCpu(target);
  return { result, cpuMicros: before === null || after === null ? null : after - before };
}

function serverCpu(target) {
  let total = 0;
  for (const pid of target.pids?.() ?? []) {
    const micros = cpuMicros(pid);
    if (micros === null) return null;
    total += micros;
  }
  return target.pids === undefined ? null : total;
}

/** One counted run (after an uncounted second of warm-up when `warmUp`), summarised. */
export function measure(target, { seconds, connections, warmUp }) {
  if (warmUp) loadOnce(target, 1, connections);
  const { result, cpuMicros: cpu } = loadOnce(target, seconds, connections);
  const { statuses } = result;
  const unexpected = Object.entries(statuses)
    .filter(([code]) => Number(code) !== target.expectedStatus)
    .reduce((sum, [, count]) => sum + count, 0);
  const run = {
    requestsPerSecond: result.requestsPerSecond,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    total: result.total,
    serverCpuMicrosPerRequest: cpu === null || result.total === 0 ? null : Math.round(cpu / result.total),
    statuses,
    unexpected: unexpected + result.errors,
  };
  process.stderr.write(
    `  ${target.name}: ${run.requestsPerSecond} req/s, p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, ` +
      `server CPU ${run.serverCpuMicrosPerRequest ?? '?'} µs/req, statuses ${JSON.stringify(statuses)}\n`,
  );
  return run;
}

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** The row of one target over several runs: medians of each figure, the runs kept. */
export function summarise(target, runs) {
  const of = (key) => {
    const values = runs.map((r) => r[key]).filter((v) => v !== null);
    return values.length === 0 ? null : median(values);
  };
  return {
    name: target.name,
    group: target.group,
    requestsPerSecond: Math.round(of('requestsPerSecond')),
    // The median of an even count of runs is a mean: rounded, so no 0.6000000000000001 reaches a table.
    p50Ms: roundTo(of('p50Ms'), 2),
    p99Ms: roundTo(of('p99Ms'), 2),
    serverCpuMicrosPerRequest: of('serverCpuMicrosPerRequest'),
    unexpected: runs.reduce((sum, r) => sum + r.unexpected, 0),
    runs,
  };
}

const roundTo = (value, digits) => (value === null ? null : Number(value.toFixed(digits)));
