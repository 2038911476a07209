// A PostgreSQL of the bench's own, as packages/store-postgres/test/postgres-server.ts makes one for
// the tests: `initdb` in the work directory, `pg_ctl` on a free loopback port, trust auth, run as the
// `postgres` OS user when the bench runs as root (PostgreSQL refuses root). fsync stays on: commits
// are as durable as in a deployment. Stopped at exit.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { atExit, childrenOf, freePort } from './processes.mjs';

const VERSIONS_DIR = '/usr/lib/postgresql';

/** The directory holding initdb, pg_ctl and postgres ($VIGIL_PG_BIN, Debian's newest, PATH), or null. */
export function postgresBinDir() {
  const candidates = [];
  if (process.env.VIGIL_PG_BIN) candidates.push(process.env.VIGIL_PG_BIN);
  if (existsSync(VERSIONS_DIR)) {
    for (const version of readdirSync(VERSIONS_DIR)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))) {
      candidates.push(join(VERSIONS_DIR, version, 'bin'));
    }
  }
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir !== '') candidates.push(dir);
  return (
    candidates.find((dir) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)))) ?? null
  );
}

function asPostgresUser() {
  if (process.getuid?.() !== 0) return {};
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0)
    throw new Error('running as root, and there is no `postgres` user');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function run(binary, args, options) {
  const result = spawnSync(binary, args, { ...options, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${binary} ${args.join(' ')}: ${result.stderr}${result.stdout}`);
  return result.stdout.trim();
}

/** Resolves with `{ url, port, version, query(sql, db?), pids() }` once the database `vigil_bench` exists. */
export async function startPostgres(bin) {
  const user = asPostgresUser();
  // A directory of its own (the work directory is private to root, and PostgreSQL runs as postgres).
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-pg-'));
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const port = await freePort();
  const options = { ...user, cwd: dir, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } };
  run(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '--no-locale', '-E', 'UTF8', '--no-sync'],
    options,
  );
  const serverArgs = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=50',
  ].join(' ');
  const ctl = join(bin, 'pg_ctl');
  run(ctl, ['start', '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', serverArgs], options);
  atExit(() => {
    spawnSync(ctl, ['stop', '-D', data, '-m', 'immediate', '-w'], { ...options, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  const query = async (sql, database = 'vigil_bench') => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  };
  await query('CREATE DATABASE vigil_bench', 'postgres');
  const [{ server_version: version }] = await query('SHOW server_version');
  /** The postmaster and its backends: the CPU a row on PostgreSQL costs is theirs too. */
  const pids = () => {
    const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return [postmaster, ...childrenOf(postmaster)];
  };
  return { port, version, url: `postgres://postgres@127.0.0.1:${port}/vigil_bench`, query, pids };
}
