// A real PostgreSQL for the tests: a fresh cluster made by `initdb` in a temporary directory and run
// by `pg_ctl` on a free port (TCP on 127.0.0.1, its socket in that directory), trust auth, stopped
// (and deleted) afterwards. The machine's own PostgreSQL (5432) is never used. The binaries come
// from the machine's PostgreSQL packages (Debian: /usr/lib/postgresql/<version>/bin, not on PATH),
// or PATH, or $VIGIL_PG_BIN; missing ones fail the tests loudly: `.ci/run` installs them.
//
// PostgreSQL refuses to run as root: when the tests run as root (CI), initdb and pg_ctl run as the
// `postgres` OS user (made by the Debian package), which owns the temporary directory.
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresServer {
  port: number;
  database: string;
  /** `postgres://postgres@127.0.0.1:PORT/DB` */
  url: string;
  /** The server's PIDs (postmaster and its children), e.g. to freeze them. */
  pids(): number[];
  /** Freezes every server process (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  /** Thaws them (SIGCONT). */
  resume(): void;
  /** `pg_ctl stop -m immediate`: every connection dropped at once, no clean shutdown. */
  crash(): Promise<void>;
  /** `pg_ctl start` again on the same port and data (after `crash`). */
  start(): Promise<void>;
  /** Resolves once the server has exited (after a shutdown the test signalled itself). */
  exited(): Promise<void>;
  /** A client for test-only SQL (the caller ends it). */
  admin(): Promise<pg.Client>;
  /** `pg_ctl stop -m fast` and removes the directory. */
  stop(): Promise<void>;
}

const VERSIONS_DIR = '/usr/lib/postgresql';

/** The directory holding initdb and pg_ctl: $VIGIL_PG_BIN, the newest Debian version, or PATH. */
export function postgresBinDir(): string {
  const candidates: string[] = [];
  if (process.env.VIGIL_PG_BIN) candidates.push(process.env.VIGIL_PG_BIN);
  if (existsSync(VERSIONS_DIR)) {
    const versions = readdirSync(VERSIONS_DIR)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(join(VERSIONS_DIR, v, 'bin'));
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '') candidates.push(dir);
  const found = candidates.find((dir) =>
    ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b))),
  );
  if (found === undefined) {
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in $VIGIL_PG_BIN, ' +
        `${VERSIONS_DIR}/*/bin or PATH: the PostgreSQL store tests need a real PostgreSQL ` +
        '(Debian/Ubuntu: apt-get install postgresql)',
    );
  }
  return found;
}

/** Run as the `postgres` OS user when we are root (PostgreSQL refuses root). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as');
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function run(binary: string, args: string[], options: SpawnOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`${binary} ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

/** Servers still running, stopped at exit even if a test run dies without its `after` hooks. */
const running = new Set<{ ctl: string; data: string; user: SpawnOptions }>();
let exitHookInstalled = false;
function stopAllAtExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const { ctl, data, user } of running) {
      spawnSync(ctl, ['stop', '-D', data, '-m', 'immediate', '-w'], { ...user, stdio: 'ignore' });
    }
  });
}

/** Every process whose parent is `pid`, read from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {}
  }
  return children;
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = runAs();
  const asUser: SpawnOptions = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  const dir = mkdtempSync(join(tmpdir(), 'vigil-pg-'));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const ctl = join(bin, 'pg_ctl');
  const port = await freePort();
  const database = 'vigil_test';
  const env = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  const options: SpawnOptions = { ...asUser, cwd: dir, env };

  await run(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync'],
    options,
  );
  // Small and quick: the tests open a few dozen connections at most. fsync stays on (the numbers
  // the tests print are then honest about commits); max_connections leaves room for the leak test.
  const serverArgs = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=100',
    '-c shared_buffers=32MB',
    '-c log_min_messages=fatal',
  ].join(' ');
  const start = async () => {
    await run(
      ctl,
      ['start', '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', serverArgs],
      options,
    );
  };
  const entry = { ctl, data, user: asUser };
  await start();
  running.add(entry);
  stopAllAtExit();

  const admin = async (db = database) => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: db });
    // A test that stops the server while it holds this client gets the error from its query; an
    // idle client's `error` event would otherwise be an uncaught exception.
    client.on('error', () => {});
    await client.connect();
    return client;
  };
  const setup = await admin('postgres');
  try {
    await setup.query(`CREATE DATABASE ${database}`);
  } finally {
    await setup.end();
  }

  const postmasterPid = () => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };
  const pids = () => {
    const pid = postmasterPid();
    return pid === undefined ? [] : [pid, ...childrenOf(pid)];
  };
  const signal = (name: NodeJS.Signals, list: number[]) => {
    for (const pid of list) {
      try {
        process.kill(pid, name);
      } catch {}
    }
  };

  return {
    port,
    database,
    url: `postgres://postgres@127.0.0.1:${port}/${database}`,
    pids,
    // Children first when freezing, postmaster first when thawing: nothing runs half-frozen long.
    pause: () => signal('SIGSTOP', pids().reverse()),
    resume: () => signal('SIGCONT', pids()),
    crash: async () => {
      await run(ctl, ['stop', '-D', data, '-m', 'immediate', '-w'], options);
    },
    start,
    exited: async () => {
      const deadline = Date.now() + 30_000;
      while (existsSync(join(data, 'postmaster.pid'))) {
        if (Date.now() > deadline) {
          const states = pids().map((pid) => {
            try {
              const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
              return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`;
            } catch {
              return `${pid} gone`;
            }
          });
          throw new Error(
            `PostgreSQL did not exit within 30 s:\n${states.join('\n')}\n${readFileSync(join(dir, 'server.log'), 'utf8').slice(-3000)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    admin: () => admin(),
    stop: async () => {
      signal('SIGCONT', pids());
      try {
        await run(ctl, ['stop', '-D', data, '-m', 'fast', '-w'], options);
      } catch {
        // Not running (a test crashed it and did not start it again).
      }
      running.delete(entry);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A schema of its own for each test (fresh, so no truncation and no initdb per test). */
export function uniqueSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}
