import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditEntry, describeAuditLogConformance } from '@vigil/core/conformance';
import { RedisAuditLog } from '../src/index.js';
import { keysByMaster, rawClient } from './helpers.js';
import {
  type RedisCluster,
  type RedisServer,
  startCluster,
  startRedis,
  uniquePrefix,
} from './redis-server.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const DAY = 86_400_000;

describe('RedisAuditLog on standalone Redis', () => {
  let server: RedisServer | undefined;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
  });

  describeAuditLogConformance('redis (standalone)', async () => {
    const log = RedisAuditLog.fromUrl(server?.url ?? '', { keyPrefix: uniquePrefix() });
    return { log, cleanup: () => log.close() };
  });

  it('a Redis that goes away makes its calls fail, and prints nothing of its own', async (t) => {
    const own = await startRedis();
    const log = RedisAuditLog.fromUrl(own.url, { keyPrefix: uniquePrefix(), commandTimeoutMs: 300 });
    // ioredis prints "[ioredis] Unhandled error event" with a stack for each failed reconnect when
    // the client has no error listener: noise in the operator's terminal, every few hundred ms.
    const printed: unknown[][] = [];
    t.mock.method(console, 'error', (...args: unknown[]) => printed.push(args));
    try {
      await log.append([auditEntry('dora', T0)]);
      await own.kill();
      await assert.rejects(log.query({ subject: 'dora', limit: 1 }));
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(printed, []);
    } finally {
      await log.close();
      await own.stop();
    }
  });

  it('every key it writes has a TTL of the retention and two days', async () => {
    const prefix = uniquePrefix();
    const log = RedisAuditLog.fromUrl(server?.url ?? '', { keyPrefix: prefix, retentionMs: 7 * DAY });
    const raw = await rawClient(server?.url ?? '');
    try {
      await log.append([auditEntry('alice', T0), auditEntry('bob', T0 + DAY)]);
      const keys = (await keysByMaster(raw, prefix)).flat();
      assert.equal(keys.length, 5, keys.join(', '));
      for (const key of keys) {
        const ttl = await raw.pttl(key);
        assert.ok(ttl > 8 * DAY && ttl <= 9 * DAY, `${key}: ${ttl}`);
      }
      // A purge of everything leaves no key behind.
      assert.equal(await log.purge(T0 + 3 * DAY), 2);
      assert.deepEqual((await keysByMaster(raw, prefix)).flat(), []);
    } finally {
      raw.disconnect();
      await log.close();
    }
  });

  it('an append trims what the retention has long passed from its subject (the safety net)', async () => {
    const log = RedisAuditLog.fromUrl(server?.url ?? '', { keyPrefix: uniquePrefix(), retentionMs: DAY });
    try {
      const old = auditEntry('carol', T0);
      await log.append([old]);
      await log.append([auditEntry('carol', T0 + 3 * DAY)]);
      const page = await log.query({ subject: 'carol', limit: 10 });
      assert.deepEqual(
        page.entries.map((e) => e.endedAt),
        [T0 + 3 * DAY],
      );
    } finally {
      await log.close();
    }
  });

  it('works on a client it is given, leaves it open on close, then answers store_unavailable', async () => {
    const client = await rawClient(server?.url ?? '');
    const log = new RedisAuditLog(client, { keyPrefix: uniquePrefix() });
    try {
      await log.append([auditEntry('dave', T0)]);
      assert.equal((await log.query({ limit: 1 })).entries.length, 1);
    } finally {
      await log.close();
    }
    await assert.rejects(log.query({ limit: 1 }), { code: 'store_unavailable' });
    assert.equal(client.status, 'ready', 'a client it was given is not its to close');
    client.disconnect();
  });
});

describe('RedisAuditLog on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  describeAuditLogConformance('redis (cluster)', async () => {
    const log = RedisAuditLog.fromUrl(cluster?.url ?? '', { keyPrefix: uniquePrefix() });
    return { log, cleanup: () => log.close() };
  });

  it('spreads days and subjects over the masters', async () => {
    const prefix = uniquePrefix();
    const log = RedisAuditLog.fromUrl(cluster?.url ?? '', { keyPrefix: prefix });
    const raw = await rawClient(cluster?.url ?? '');
    try {
      await log.append(Array.from({ length: 60 }, (_, i) => auditEntry(`user-${i}`, T0 + (i % 20) * DAY)));
      const perMaster = (await keysByMaster(raw, prefix)).map((keys) => keys.length);
      assert.equal(perMaster.length, 3);
      assert.ok(
        perMaster.every((count) => count > 0),
        `keys per master: ${perMaster.join(', ')}`,
      );
    } finally {
      raw.disconnect();
      await log.close();
    }
  });
});
