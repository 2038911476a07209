import { MemoryStore } from '@vigil/core';
import { describeTokenStoreConformance } from '@vigil/core/conformance';

describeTokenStoreConformance('memory', async () => {
  const store = new MemoryStore();
  return { tokens: store.tokenStore(), cleanup: () => store.close() };
});
