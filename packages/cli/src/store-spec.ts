import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type AuditLog, MemoryAuditLog, MemoryStore, type Store } from '@vigil/core';
import { CliError } from './io.js';

/** Where sessions live, as written after `--store` (DESIGN: The CLI). */
export type StoreSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string; cluster: boolean }
  | { kind: 'postgres'; url: string };

export const DEFAULT_STORE_SPEC = 'sqlite:./data/vigil.db';

/** Whether the part of a Redis URL after `//` names a host for each of its nodes. */
function namesHosts(rest: string): boolean {
  const authority = rest.split(/[/?#]/, 1)[0] ?? '';
  const nodes = authority.slice(authority.lastIndexOf('@') + 1).split(',');
  return nodes.every((node) => !/^(:\d*)?$/.test(node));
}

/** A spec that cannot be right is a usage error, like any other bad flag. */
const EXIT_USAGE = 2;

const FORMS =
  'memory, sqlite:PATH, redis://HOST:PORT, redis+cluster://H1:P1,H2:P2 or postgres://USER@HOST:PORT/DB';

/** Parses a store spec; relative SQLite paths are resolved against `cwd`. */
export function parseStoreSpec(spec: string, cwd = process.cwd()): StoreSpec {
  if (spec === 'memory') return { kind: 'memory' };
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    if (path === '') {
      throw new CliError(`store "sqlite:" needs a file path, e.g. ${DEFAULT_STORE_SPEC}`, EXIT_USAGE);
    }
    return { kind: 'sqlite', path: resolve(cwd, path) };
  }
  const redis = /^rediss?(\+cluster)?:\/\/(.*)$/.exec(spec);
  if (redis) {
    // `redis://` alone would quietly mean 127.0.0.1:6379: whichever Redis happens to run there.
    if (!namesHosts(redis[2] ?? '')) {
      throw new CliError(`store "${redactSpec(spec)}" names no host: use ${FORMS}`, EXIT_USAGE);
    }
    return { kind: 'redis', url: spec, cluster: redis[1] !== undefined };
  }
  if (/^postgres(ql)?:\/\//.test(spec)) return { kind: 'postgres', url: spec };
  throw new CliError(`unknown store "${redactSpec(spec)}": use ${FORMS}`, EXIT_USAGE);
}

/** A spec fit for logs and messages: any password in a URL is replaced (Principle 7). */
export function redactSpec(spec: string): string {
  return spec.replace(/(\/\/[^/@:]*:)[^/@]*@/g, '$1***@');
}

export interface OpenOptions {
  /** How long ended sessions are kept (config `endedRetention`); sizes Redis's TTL safety net. */
  endedRetentionMs?: number;
  /** The server's bound on a store call (config `storeTimeout`); see `sqliteLockWait`. */
  storeTimeoutMs?: number;
}

/**
 * How long a SQLite call waits for a lock another process holds: at most 1 s, and at most half the
 * server's `storeTimeout`, so that a call gives up before the server answers `503` for it: a
 * creation must not commit after its client was told it failed.
 */
function sqliteLockWait(storeTimeoutMs: number | undefined): number {
  return Math.max(1, Math.min(1000, Math.floor((storeTimeoutMs ?? 2000) / 2)));
}

/** Opens the store a spec names, running its schema migrations. The caller closes it. */
export async function openStore(spec: StoreSpec, options: OpenOptions = {}): Promise<Store> {
  switch (spec.kind) {
    case 'memory':
      return new MemoryStore();
    case 'sqlite':
      createFolderOf(spec.path);
      try {
        const { SqliteStore } = await import('@vigil/store-sqlite');
        return await SqliteStore.open({
          path: spec.path,
          busyTimeoutMs: sqliteLockWait(options.storeTimeoutMs),
        });
      } catch (error) {
        throw new CliError(
          `cannot open SQLite store at ${spec.path} (is its folder writable?): ${(error as Error).message}`,
        );
      }
    case 'redis':
      return openRedis(spec.url, options);
    case 'postgres':
      return openPostgres(spec.url);
  }
}

/** The SQLite file's folder, made if missing (the default `./data/` is, on a first start). */
function createFolderOf(path: string): void {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EEXIST' || code === 'ENOTDIR'
          ? 'a file is in the way'
          : message;
    throw new CliError(`cannot create the folder ${folder} for the SQLite store: ${why}`);
  }
}

interface PostgresModule {
  PostgresStore?: { fromUrl?: (url: string) => Store & { migrate(): Promise<unknown> } };
}

/**
 * The PostgreSQL store is loaded only when asked for, like the Redis one (so `vigil` runs without
 * `pg`). Opening it applies the schema migrations (several nodes starting at once all come up), so
 * an unreachable database or a schema from a newer Vigil fails here with a clear message.
 */
async function openPostgres(url: string): Promise<Store> {
  const name = '@vigil/store-postgres';
  let loaded: PostgresModule;
  try {
    loaded = (await import(name)) as PostgresModule;
  } catch (error) {
    throw new CliError(
      `the PostgreSQL store is not available (${name} could not be loaded: ${(error as Error).message})`,
    );
  }
  const { PostgresStore } = loaded;
  if (typeof PostgresStore?.fromUrl !== 'function') {
    throw new CliError(`${name} does not export PostgresStore.fromUrl; is it built?`);
  }
  let store: Store & { migrate(): Promise<unknown> };
  try {
    store = PostgresStore.fromUrl(url);
  } catch (error) {
    throw new CliError(`cannot use PostgreSQL store ${redactSpec(url)}: ${(error as Error).message}`);
  }
  try {
    await store.migrate();
    await store.ping();
  } catch (error) {
    await store.close().catch(() => {});
    throw new CliError(`cannot open PostgreSQL store ${redactSpec(url)}: ${(error as Error).message}`);
  }
  return store;
}

interface RedisModule {
  RedisStore?: { fromUrl?: (url: string, options?: { retentionMs?: number }) => Store };
}

/**
 * The Redis store is loaded only when asked for, so that `vigil` runs without ioredis and a broken
 * Redis package never stops a SQLite deployment. The name is a variable on purpose: the CLI does not
 * compile against the Redis package.
 */
async function openRedis(url: string, options: OpenOptions): Promise<Store> {
  const name = '@vigil/store-redis';
  let loaded: RedisModule;
  try {
    loaded = (await import(name)) as RedisModule;
  } catch (error) {
    throw new CliError(
      `the Redis store is not available (${name} could not be loaded: ${(error as Error).message})`,
    );
  }
  const { RedisStore } = loaded;
  if (typeof RedisStore?.fromUrl !== 'function') {
    throw new CliError(`${name} does not export RedisStore.fromUrl; is it built?`);
  }
  let store: Store;
  try {
    store = RedisStore.fromUrl(url, {
      ...(options.endedRetentionMs !== undefined && { retentionMs: options.endedRetentionMs }),
    });
  } catch (error) {
    throw new CliError(`cannot use Redis store ${redactSpec(url)}: ${(error as Error).message}`);
  }
  // Connecting is lazy: ask once, so that an unreachable Redis fails here with a clear message.
  try {
    await store.ping();
  } catch (error) {
    await store.close().catch(() => {});
    throw new CliError(`cannot reach Redis store ${redactSpec(url)}: ${(error as Error).message}`);
  }
  return store;
}

export interface AuditOpenOptions {
  /** How long audit entries are kept (config `audit.retention`); sizes Redis's TTL safety net. */
  retentionMs?: number;
  /** The server's bound on a store call (config `storeTimeout`). */
  storeTimeoutMs?: number;
}

interface AuditModule {
  RedisAuditLog?: { fromUrl?: (url: string, options?: { retentionMs?: number }) => AuditLog };
  PostgresAuditLog?: { fromUrl?: (url: string) => AuditLog & { migrate(): Promise<unknown> } };
}

/**
 * Opens the audit trail kept beside the store a spec names: the same SQLite file, Redis (same key
 * prefix) or PostgreSQL database (same schema), each on a connection of its own; for `memory`, a
 * log in this process. Creates its tables if missing. The caller closes it.
 */
export async function openAuditLog(spec: StoreSpec, options: AuditOpenOptions = {}): Promise<AuditLog> {
  switch (spec.kind) {
    case 'memory':
      return new MemoryAuditLog();
    case 'sqlite':
      try {
        const { SqliteAuditLog } = await import('@vigil/store-sqlite');
        return await SqliteAuditLog.open({
          path: spec.path,
          busyTimeoutMs: sqliteLockWait(options.storeTimeoutMs),
        });
      } catch (error) {
        throw new CliError(`cannot open the audit log in ${spec.path}: ${(error as Error).message}`);
      }
    case 'redis': {
      const name = '@vigil/store-redis';
      const { RedisAuditLog } = (await import(name)) as AuditModule;
      if (typeof RedisAuditLog?.fromUrl !== 'function') {
        throw new CliError('@vigil/store-redis does not export RedisAuditLog.fromUrl; is it built?');
      }
      return RedisAuditLog.fromUrl(spec.url, {
        ...(options.retentionMs !== undefined && { retentionMs: options.retentionMs }),
      });
    }
    case 'postgres': {
      const name = '@vigil/store-postgres';
      const { PostgresAuditLog } = (await import(name)) as AuditModule;
      if (typeof PostgresAuditLog?.fromUrl !== 'function') {
        throw new CliError('@vigil/store-postgres does not export PostgresAuditLog.fromUrl; is it built?');
      }
      const log = PostgresAuditLog.fromUrl(spec.url);
      try {
        await log.migrate();
      } catch (error) {
        await log.close().catch(() => {});
        throw new CliError(
          `cannot open the audit log in ${redactSpec(spec.url)}: ${(error as Error).message}`,
        );
      }
      return log;
    }
  }
}
