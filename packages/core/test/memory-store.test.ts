import { MemoryStore } from '@vigil/core';
import { describeStoreConformance } from '@vigil/core/conformance';

describeStoreConformance('memory', async () => {
  const store = new MemoryStore();
  return { store, cleanup: () => store.close() };
});
