import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoreConformance } from '@vigil/core/conformance';
import { SqliteStore } from '../src/index.js';

describeStoreConformance('sqlite (WAL file)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-sqlite-'));
  const store = await SqliteStore.open({ path: join(dir, 'vigil.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
