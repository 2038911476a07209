// Real Redis servers for the tests: each started by the test itself on a free port in a temporary
// directory, with persistence off unless asked for, and stopped by its PID. The machine's own Redis
// (6379) is never used. A missing `redis-server` fails the tests loudly: `.ci/run` installs it.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RedisServer {
  port: number;
  url: string;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
  /** Kills it (SIGKILL), keeping the port free for `restart`. */
  kill(): Promise<void>;
  /**
   * Kills the server (if running) and starts a new one on the same port and directory: empty
   * without persistence; with `persistence: 'aof'` it reloads every write it acknowledged.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /**
   * `none` (default): `--save "" --appendonly no`, a restart loses everything. `aof`: `--appendonly
   * yes --appendfsync always`, every acknowledged write is on disk before Redis answers it.
   */
  persistence?: 'none' | 'aof';
}

export interface RedisCluster {
  ports: number[];
  url: string;
  stop(): Promise<void>;
}

/** A key prefix of its own for each test, so that tests can share one server. */
export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}:`;
}

function requireRedis(): void {
  for (const tool of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) {
      throw new Error(`${tool} is not installed (or not on PATH): the Redis store tests need a real Redis`);
    }
  }
}

/** A free TCP port; for cluster nodes also the bus port (port + 10000) must be free. */
async function freePort(withBusPort = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (!withBusPort) return port;
    if (port + 10000 > 65535) continue;
    try {
      await listenOnce(port + 10000);
      return port;
    } catch {}
  }
  throw new Error('no free port found');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const found = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve(found));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Process {
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
}

function spawnRedis(args: string[]): Process {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, output, exited };
}

const PERSISTENCE = {
  none: ['--appendonly', 'no'],
  aof: ['--appendonly', 'yes', '--appendfsync', 'always'],
} as const;

async function startProcess(
  port: number,
  dir: string,
  extra: string[] = [],
  persistence: keyof typeof PERSISTENCE = 'none',
): Promise<Process> {
  const proc = spawnRedis([
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    ...PERSISTENCE[persistence],
    '--dir',
    dir,
    ...extra,
  ]);
  let exited = false;
  proc.exited.then(() => {
    exited = true;
  });
  try {
    await waitFor(`redis-server on port ${port}`, async () => {
      if (exited) throw new Error(`redis-server exited:\n${proc.output.join('')}`);
      return ping(port);
    });
  } catch (error) {
    await killProcess(proc);
    throw error;
  }
  return proc;
}

async function killProcess(proc: Process): Promise<void> {
  const { child } = proc;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    try {
      process.kill(child.pid, 'SIGCONT');
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  }
  await proc.exited;
}

export async function startRedis({ persistence = 'none' }: RedisOptions = {}): Promise<RedisServer> {
  requireRedis();
  const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-'));
  const port = await freePort();
  let current = await startProcess(port, dir, [], persistence);
  const signal = (name: NodeJS.Signals) => {
    if (current.child.pid !== undefined) process.kill(current.child.pid, name);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    kill: () => killProcess(current),
    restart: async () => {
      await killProcess(current);
      current = await startProcess(port, dir, [], persistence);
    },
    stop: async () => {
      await killProcess(current);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function clusterInfo(port: number): Promise<string> {
  try {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'cluster', 'info']);
    return stdout;
  } catch {
    return '';
  }
}

/** Three masters, no replicas, all 16384 slots assigned and agreed on by every node. */
export async function startCluster(size = 3): Promise<RedisCluster> {
  requireRedis();
  const dirs: string[] = [];
  const processes: Process[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(processes.map(killProcess));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < size; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-redis-cluster-'));
      dirs.push(dir);
      const port = await freePort(true);
      ports.push(port);
      processes.push(
        await startProcess(port, dir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    await waitFor('cluster_state:ok on every node', async () => {
      const infos = await Promise.all(ports.map(clusterInfo));
      return infos.every(
        (info) =>
          info.includes('cluster_state:ok') &&
          info.includes('cluster_slots_ok:16384') &&
          info.includes(`cluster_known_nodes:${size}`),
      );
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports, url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, stop };
}
