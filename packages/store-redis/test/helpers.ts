// Test-only access to Redis around the store: listing keys (SCAN, which the store itself never
// uses), reading TTLs, flushing scripts.
import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';

export type RawClient = Redis | Cluster;

export async function rawClient(url: string): Promise<RawClient> {
  const cluster = /^redis\+cluster:\/\/(.*)$/.exec(url);
  const client = cluster
    ? new Cluster(
        (cluster[1] ?? '').split(',').map((hostPort) => {
          const [host, port] = hostPort.split(':');
          return { host: host ?? '127.0.0.1', port: Number(port) };
        }),
      )
    : new Redis(url);
  if (client.status !== 'ready') await once(client, 'ready');
  return client;
}

/** The connection to each master (just the client itself when standalone). */
export function masters(client: RawClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

/** Every key starting with `prefix`, per master. */
export async function keysByMaster(client: RawClient, prefix: string): Promise<string[][]> {
  return Promise.all(
    masters(client).map(async (node) => {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      return keys;
    }),
  );
}

export async function keysWithPrefix(client: RawClient, prefix: string): Promise<string[]> {
  return (await keysByMaster(client, prefix)).flat().sort();
}

export async function flushScripts(client: RawClient): Promise<void> {
  await Promise.all(masters(client).map((node) => node.script('FLUSH')));
}

export async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** How many NOSCRIPT errors the servers have answered (Redis 7 `INFO errorstats`), summed over masters. */
export async function noscriptErrors(client: RawClient): Promise<number> {
  const counts = await Promise.all(
    masters(client).map(async (node) => {
      const info = await node.info('errorstats');
      return Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(info)?.[1] ?? 0);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}
