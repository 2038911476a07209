// Not a test: a measurement to run by hand, on a Redis of its own.
//   node --conditions=vigil-source --import tsx packages/store-redis/test/measure-memory.ts [store module…]
// For each store module (default: ../src/index.js), creates SESSIONS sessions with distinct subjects
// (like the bench: policy idle 15m, absolute 8h, warning 2m, touchGranularity 0, no attributes)
// under a key prefix of their own, and prints used_memory growth per session, keys per session,
// MEMORY USAGE and OBJECT ENCODING per kind of key, then times TOUCHES heartbeats (32 at a time over
// 1,000 sessions): wall time, and CPU of this process plus Redis per touch.
import { pathToFileURL } from 'node:url';
import {
  createSession,
  newSessionToken,
  resolvePolicy,
  type SessionRecord,
  sessionIdFor,
  touchParams,
} from '@vigil/core';
import type { RedisStore } from '../src/index.js';
import { rawClient } from './helpers.js';
import { startRedis } from './redis-server.js';

const SESSIONS = Number(process.env.SESSIONS ?? 20_000);
const TOUCHES = Number(process.env.TOUCHES ?? 60_000);
const policy = resolvePolicy('default', { idleTimeout: '15m', absoluteTimeout: '8h', touchGranularity: 0 });

const record = (subject: string, now: number): SessionRecord =>
  createSession({ id: sessionIdFor(newSessionToken()), subject, policy, attributes: {}, now });

async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const server = await startRedis();
const raw = await rawClient(server.url);
const usedMemory = async () => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  return Number(/used_memory:(\d+)/.exec(await raw.info('memory'))?.[1]);
};
const redisCpu = async () => {
  const info = await raw.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
};

try {
  const modules = process.argv.slice(2);
  for (const [i, path] of (modules.length > 0 ? modules : ['../src/index.js']).entries()) {
    const url = path.startsWith('.') && !path.startsWith('../') ? pathToFileURL(path).href : path;
    const { RedisStore: Store } = (await import(url)) as { RedisStore: typeof RedisStore };
    const prefix = `m${i}:`;
    const store = Store.fromUrl(server.url, { keyPrefix: prefix });
    const now = Date.now();
    await store.create(record('warm-up', now), { maxSessions: null });
    const before = await usedMemory();
    const keysBefore = await raw.dbsize();
    const records = Array.from({ length: SESSIONS }, (_, n) => record(`mem-${n}`, now));
    await inBatches(records, 32, (r) => store.create(r, { maxSessions: null }));
    const after = await usedMemory();
    const keysAfter = await raw.dbsize();
    console.log(`\n== ${path}`);
    console.log(
      `bytes per session ${((after - before) / SESSIONS).toFixed(0)}, keys per session ${((keysAfter - keysBefore) / SESSIONS).toFixed(2)}`,
    );

    // Per kind of key: the sum of MEMORY USAGE over every key (SCAN: fine in a measurement).
    const kinds = new Map<string, { keys: number; bytes: number; encodings: Map<string, number> }>();
    let cursor = '0';
    do {
      const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        const kind = key.slice(prefix.length).replace(/\{.*$/, '');
        const entry = kinds.get(kind) ?? { keys: 0, bytes: 0, encodings: new Map() };
        entry.keys++;
        entry.bytes += Number(await raw.memory('USAGE', key, 'SAMPLES', 0));
        const encoding = String(await raw.object('ENCODING', key));
        entry.encodings.set(encoding, (entry.encodings.get(encoding) ?? 0) + 1);
        kinds.set(kind, entry);
      }
    } while (cursor !== '0');
    for (const [kind, { keys, bytes, encodings }] of [...kinds].sort()) {
      console.log(
        `  ${kind.padEnd(10)} keys ${String(keys).padStart(6)}  MEMORY USAGE ${String(bytes).padStart(9)} B  per session ${(bytes / SESSIONS).toFixed(1).padStart(6)} B  ${[...encodings].map(([e, n]) => `${e}×${n}`).join(' ')}`,
      );
    }
    const sample = records[0] as SessionRecord;
    const sessionKey = (await raw.keys(`${prefix}s:{${sample.id}}`))[0] ?? '';
    console.log(`  a session hash: ${JSON.stringify(await raw.hgetall(sessionKey))}`);

    // Heartbeats: every one written (touchGranularity 0), 32 in flight, over 1,000 sessions.
    const beating = records.slice(0, 1000);
    const touches = Array.from({ length: TOUCHES }, (_, n) => beating[n % beating.length] as SessionRecord);
    let t = now + 1000;
    await inBatches(touches.slice(0, 2000), 32, (r) => store.touch(r.id, touchParams(policy, 'active', t++)));
    const cpuBefore = process.cpuUsage();
    const redisBefore = await redisCpu();
    const started = performance.now();
    await inBatches(touches, 32, (r) => store.touch(r.id, touchParams(policy, 'active', t++)));
    const ms = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const redisUs = ((await redisCpu()) - redisBefore) * 1e6;
    console.log(
      `touches: ${Math.round(TOUCHES / (ms / 1000))}/s, CPU per touch: node ${((cpu.user + cpu.system) / TOUCHES).toFixed(1)} µs + redis ${(redisUs / TOUCHES).toFixed(1)} µs`,
    );
    await store.close();
  }
} finally {
  raw.disconnect();
  await server.stop();
}
