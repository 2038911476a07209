import { after, before, describe } from 'node:test';
import { describeStoreConformance, describeTokenStoreConformance } from '@vigil/core/conformance';
import { RedisStore } from '../src/index.js';
import {
  type RedisCluster,
  type RedisServer,
  startCluster,
  startRedis,
  uniquePrefix,
} from './redis-server.js';

describe('RedisStore on standalone Redis', () => {
  let server: RedisServer | undefined;
  before(async () => {
    server = await startRedis();
  });
  after(async () => {
    await server?.stop();
  });

  describeStoreConformance('redis (standalone)', async () => {
    const store = RedisStore.fromUrl(server?.url ?? '', { keyPrefix: uniquePrefix() });
    return { store, cleanup: () => store.close() };
  });

  describeTokenStoreConformance('redis (standalone)', async () => {
    const store = RedisStore.fromUrl(server?.url ?? '', { keyPrefix: uniquePrefix() });
    return { tokens: store.tokenStore(), cleanup: () => store.close() };
  });
});

describe('RedisStore on a 3-master Redis Cluster', () => {
  let cluster: RedisCluster | undefined;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  describeStoreConformance('redis (cluster)', async () => {
    const store = RedisStore.fromUrl(cluster?.url ?? '', { keyPrefix: uniquePrefix() });
    return { store, cleanup: () => store.close() };
  });

  describeTokenStoreConformance('redis (cluster)', async () => {
    const store = RedisStore.fromUrl(cluster?.url ?? '', { keyPrefix: uniquePrefix() });
    return { tokens: store.tokenStore(), cleanup: () => store.close() };
  });
});
