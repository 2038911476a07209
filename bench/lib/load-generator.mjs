// The load generator, in a process of its own: wrk when it is installed, else autocannon
// (bench/load.mjs). wrk is preferred because it is written in C and takes a fraction of the CPU
// autocannon needs per request: on a 2-CPU machine the load generator shares the CPUs with the
// server under test, so a costly generator holds back the fastest targets most and squeezes every
// ratio towards 1. Both report the same shape, and the results name the one used.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, versionOf, workDir } from './processes.mjs';

const WRK = process.env.BENCH_WRK ?? 'wrk';

let jobs = 0;

/**
 * `{ name: 'wrk', version: '4.1.0' }` or autocannon's: the generator this machine's runs use
 * (`BENCH_LOAD_GENERATOR=autocannon` asks for autocannon even where wrk is installed).
 */
export function loadGenerator() {
  chosen ??= probe();
  return chosen;
}

let chosen;

function probe() {
  if (process.env.BENCH_LOAD_GENERATOR !== 'autocannon') {
    // `wrk --version` prints its version, then its usage, and exits 1.
    const answer = spawnSync(WRK, ['--version'], { encoding: 'utf8' });
    const version = /^wrk \S*?(\d+\.\d+\.\d+)/m.exec(`${answer.stdout ?? ''}`)?.[1];
    if (answer.error === undefined && version !== undefined) return { name: 'wrk', version };
  }
  return { name: 'autocannon', version: versionOf('autocannon') };
}

/**
 * One run: `job` is `{ url, method, tokens, credential, headers, connections, duration }` (see
 * bench/load.mjs). Returns `{ requestsPerSecond, p50Ms, p99Ms, total, statuses, errors }`:
 * `statuses` counts answers by HTTP status, `errors` counts requests that got none.
 */
export function generateLoad(job) {
  return generators[loadGenerator().name](job);
}

/** Each generator by name, for the bench's own tests, which run the same job through both. */
export const generators = { wrk: withWrk, autocannon: withAutocannon };

function withAutocannon(job) {
  const result = spawnSync(process.execPath, [join(root, 'bench/load.mjs'), JSON.stringify(job)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`autocannon failed:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

function withWrk(job) {
  const method = job.method ?? 'POST';
  const headers = {
    ...(method === 'POST' ? { 'Content-Type': 'application/json' } : {}),
    ...job.headers,
  };
  const body = method === 'POST' ? JSON.stringify({ state: 'active' }) : '-';
  const jobFile = join(workDir, `wrk-job-${++jobs}.txt`);
  writeFileSync(
    jobFile,
    [
      job.credential ?? 'bearer',
      method,
      body,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      '--',
      ...job.tokens,
    ].join('\n'),
  );
  const result = spawnSync(
    WRK,
    [
      // One thread drives every connection: it keeps the generator's share of the CPUs small.
      '--threads=1',
      `--connections=${job.connections}`,
      `--duration=${job.duration}s`,
      '--timeout=10s',
      `--script=${join(root, 'bench/wrk-requests.lua')}`,
      job.url,
      '--',
      jobFile,
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  const line = /^WRK_RESULT (.*)$/m.exec(result.stdout ?? '')?.[1];
  if (result.status !== 0 || line === undefined) {
    throw new Error(`wrk failed (${result.status ?? result.error}):\n${result.stdout}\n${result.stderr}`);
  }
  const raw = JSON.parse(line);
  const errors = raw.errors.connect + raw.errors.read + raw.errors.write + raw.errors.timeout;
  return {
    requestsPerSecond: Math.round(raw.requests / (raw.durationMicros / 1e6)),
    p50Ms: Number((raw.p50Micros / 1000).toFixed(2)),
    p99Ms: Number((raw.p99Micros / 1000).toFixed(2)),
    total: raw.requests,
    statuses: raw.statuses,
    errors,
  };
}
