// A redis-server of the bench's own (persistence off: the bench measures serving, not disks), driven
// with redis-cli; redis-benchmark's own figure for it; memory per session as used_memory grows.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, sleep, toolVersion, track, workDir } from './processes.mjs';

/** The redis-server version, or null when redis-server, redis-cli or redis-benchmark is missing. */
export function redisVersion() {
  const server = toolVersion('redis-server');
  if (server === null || toolVersion('redis-cli') === null || toolVersion('redis-benchmark') === null)
    return null;
  return /v=(\S+)/.exec(server)?.[1] ?? server;
}

export function redisCli(port, ...command) {
  const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...command], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`redis-cli ${command.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

export async function startRedis() {
  const port = await freePort();
  const dir = join(workDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = track(
    spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    ),
  );
  for (let i = 0; i < 200; i++) {
    const ping = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], {
      encoding: 'utf8',
    });
    if (ping.stdout?.trim() === 'PONG') return { port, url: `redis://127.0.0.1:${port}`, child };
    await sleep(50);
  }
  throw new Error('redis-server did not answer PING within 10 s');
}

/** Bytes Redis has allocated for data (`used_memory`), after letting lazy frees finish. */
async function usedMemory(port) {
  await sleep(200);
  return Number(/used_memory:(\d+)/.exec(redisCli(port, 'info', 'memory'))?.[1]);
}

/**
 * Bytes per live session in Redis for one system: used_memory grows by this much per session
 * created through it (a one-session warm-up first, so that loaded scripts and connections are not
 * counted as sessions). `create(n, prefix)` makes n sessions through the system's own API.
 */
export async function bytesPerSession(port, count, create) {
  await create(1, 'warm');
  const before = await usedMemory(port);
  const keysBefore = Number(redisCli(port, 'dbsize').trim());
  const started = performance.now();
  await create(count, 'mem');
  const seconds = (performance.now() - started) / 1000;
  const after = await usedMemory(port);
  const keysAfter = Number(redisCli(port, 'dbsize').trim());
  return {
    sessions: count,
    usedMemoryBefore: before,
    usedMemoryAfter: after,
    bytesPerSession: Math.round((after - before) / count),
    keysPerSession: Number(((keysAfter - keysBefore) / count).toFixed(2)),
    createdPerSecond: Math.round(count / seconds),
  };
}

/** `redis-benchmark -t set,get -q` (50 clients, no pipelining): requests per second per command. */
export function redisBenchmark(port) {
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
    `  redis-benchmark: SET ${figures.SET.requestsPerSecond} req/s, GET ${figures.GET.requestsPerSecond} req/s\n`,
  );
  return figures;
}
