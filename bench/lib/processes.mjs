// Starting and stopping the bench's own processes (servers, load generators, stores), on loopback
// ports of their own, in a temporary directory that is removed at exit. Every child is killed at
// exit by its PID, whatever happened.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const workDir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));

const children = new Set();
const exitHooks = [];

/** Runs `hook` at exit (before the work directory goes): stopping a server started another way. */
export function atExit(hook) {
  exitHooks.push(hook);
}

process.on('exit', () => {
  for (const hook of exitHooks.reverse()) {
    try {
      hook();
    } catch {
      // best effort: the next hooks still run
    }
  }
  for (const child of children) child.kill('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

/** Keeps `child` on the list of processes killed at exit. */
export function track(child) {
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

/** Starts a Node server script and resolves with its URL once it prints `listening on URL `. */
export function startServer(name, argv, env = {}) {
  const child = track(
    spawn(process.execPath, argv, {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+?)\/? /.exec(output)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve({ name, url, child, stop: () => stop(child) });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output}`));
    });
  });
}

/** SIGTERM, and resolves when the process has exited. */
export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** Runs a Node script to completion and parses the last line it prints as JSON. */
export function runJson(script, job, { nodeArgs = [], timeoutMs = 600_000 } = {}) {
  const result = spawnSync(process.execPath, [...nodeArgs, join(root, script), JSON.stringify(job)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: timeoutMs,
  });
  if (result.status !== 0) {
    throw new Error(`${script} failed (${result.status ?? result.signal}):\n${result.stderr.slice(-4000)}`);
  }
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The first line of `tool --version` (or `flag`), or null when the tool is missing. */
export function toolVersion(tool, flag = '--version') {
  const probe = spawnSync(tool, [flag], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return null;
  return `${probe.stdout}${probe.stderr}`.trim().split('\n')[0];
}

/** The installed version of an npm package (root or a workspace's own node_modules), or null. */
export function versionOf(name) {
  for (const base of [
    '',
    'packages/server',
    'packages/store-sqlite',
    'packages/store-redis',
    'packages/store-postgres',
  ]) {
    try {
      return JSON.parse(readFileSync(join(root, base, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      // not installed there
    }
  }
  return null;
}

/** CPU time a process has used so far (user + system), in µs, from /proc (Linux); null elsewhere. */
export function cpuMicros(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100;
  } catch {
    return null;
  }
}

/** Every process whose parent is `pid` (a server's workers), from /proc. */
export function childrenOf(pid) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
