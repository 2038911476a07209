import { StoreUnavailableError, VigilError } from '@vigil/core';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * Exponential backoff with full jitter, capped at 2 s, so that when Redis comes back every node
 * is serving again within a few seconds, and a restarted Redis is not hit by all nodes at once.
 */
export function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(2000, 50 * 2 ** Math.min(attempt, 10));
  return Math.ceil(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Connection settings that bound every call (DESIGN: store outages): a command that gets no answer
 * within `commandTimeoutMs` fails; a lost connection fails what was in flight at once
 * (`maxRetriesPerRequest: 0`) and never re-sends it later behind the caller's back; while
 * reconnecting, calls fail at once instead of queueing (the offline queue is switched off after the
 * first connect by `boundAfterFirstConnect`).
 */
export function boundedRedisOptions(commandTimeoutMs: number): RedisOptions {
  return {
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(1000, 2 * commandTimeoutMs),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: true,
    retryStrategy: reconnectDelay,
    // Commands issued in the same turn of the event loop (the heartbeats of many connections that
    // arrived together) go out as one write and come back in one read: under load that halves the
    // CPU a heartbeat costs here and in Redis. Each command still has its own reply and timeout.
    enableAutoPipelining: true,
  };
}

/** The offline queue lets calls made before the first connect wait for it; after that, fail fast. */
export function boundAfterFirstConnect(client: RedisClient): void {
  client.once('ready', () => {
    client.options.enableOfflineQueue = false;
  });
}

export interface ParsedSpec {
  client: RedisClient;
  /** Host list for messages: never a password. */
  label: string;
}

/**
 * Builds a client from a store spec: `redis://[user:pass@]host:port[/db]` (or `rediss://` for TLS),
 * or `redis+cluster://[user:pass@]h1:p1,h2:p2,…` (or `rediss+cluster://`).
 */
export function clientFromSpec(spec: string, commandTimeoutMs: number): ParsedSpec {
  const options = boundedRedisOptions(commandTimeoutMs);
  const cluster = /^(rediss?)\+cluster:\/\/(.*)$/.exec(spec);
  if (cluster === null) {
    if (!/^rediss?:\/\//.test(spec))
      throw new TypeError('a Redis store spec starts with redis:// or redis+cluster://');
    const url = new URL(spec);
    const client = new Redis(spec, options);
    boundAfterFirstConnect(client);
    return { client, label: `redis://${url.host}` };
  }
  const [, scheme, rest = ''] = cluster;
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, '');
  const nodes = hosts
    .split(',')
    .filter((h) => h !== '')
    .map((h) => {
      const url = new URL(`redis://${h}`);
      return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 6379) };
    });
  if (nodes.length === 0) throw new TypeError('redis+cluster:// needs at least one host:port');
  const [user, password] = auth === '' ? [] : auth.split(':').map(decodeURIComponent);
  const clusterOptions: ClusterOptions = {
    clusterRetryStrategy: reconnectDelay,
    enableOfflineQueue: true,
    enableAutoPipelining: true,
    slotsRefreshTimeout: Math.max(1000, commandTimeoutMs),
    redisOptions: {
      ...options,
      ...(user ? { username: user } : {}),
      ...(password ? { password } : {}),
      ...(scheme === 'rediss' ? { tls: {} } : {}),
    },
  };
  const client = new Cluster(nodes, clusterOptions);
  boundAfterFirstConnect(client);
  return { client, label: `redis+cluster://${nodes.map((n) => `${n.host}:${n.port}`).join(',')}` };
}

/** Replies that mean "Redis cannot answer right now", as opposed to a bug in a script or a call. */
const TRANSIENT_REPLY = /^(CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|BUSY|NOREPLICAS|OOM|MOVED|ASK)\b/;

/**
 * Connection errors, timeouts and transient replies become `StoreUnavailableError` (503 + Retry-After,
 * never 401); the message names the setting to tune. Other Redis replies are bugs and stay as they are.
 */
export function toStoreError(
  error: unknown,
  operation: string,
  label: string,
  commandTimeoutMs: number,
): unknown {
  if (error instanceof VigilError) return error;
  if (error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message))
    return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreUnavailableError(
    `${label}: ${operation} failed (${reason}); each Redis call is bounded by commandTimeoutMs (${commandTimeoutMs} ms)`,
    { cause: error },
  );
}
