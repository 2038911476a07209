import { after, before, describe } from 'node:test';
import { describeStoreConformance, describeTokenStoreConformance } from '@vigil/core/conformance';
import { PostgresStore } from '../src/index.js';
import { type PostgresServer, startPostgres, uniqueSchema } from './postgres-server.js';

describe('PostgresStore', () => {
  let server: PostgresServer | undefined;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  // One server for the file; each test gets a fresh schema, migrated here, dropped afterwards.
  // (Timing is outage.test.ts's subject: a generous call budget keeps a loaded machine from
  // failing a correctness test.)
  describeStoreConformance('postgres', async () => {
    const schema = uniqueSchema();
    const store = PostgresStore.fromUrl(server?.url ?? '', {
      schema,
      maxConnections: 4,
      queryTimeoutMs: 10_000,
    });
    await store.migrate();
    return {
      store,
      cleanup: async () => {
        await store.close();
        const admin = await server?.admin();
        await admin?.query(`DROP SCHEMA ${schema} CASCADE`);
        await admin?.end();
      },
    };
  });

  describeTokenStoreConformance('postgres', async () => {
    const schema = uniqueSchema();
    const store = PostgresStore.fromUrl(server?.url ?? '', {
      schema,
      maxConnections: 4,
      queryTimeoutMs: 10_000,
    });
    return {
      tokens: store.tokenStore(),
      cleanup: async () => {
        await store.close();
        const admin = await server?.admin();
        await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await admin?.end();
      },
    };
  });
});
