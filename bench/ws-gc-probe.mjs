// Preloaded into a Vigil server by bench/ws.mjs (`node --expose-gc --import ./bench/ws-gc-probe.mjs
// packages/cli/bin/vigil.js serve …`) so the bench can ask, from outside, for a full GC and the
// memory left after it: on SIGUSR2 the server collects twice and prints one line on stderr,
// `vigil-bench-memory {rss, heapUsed, external, arrayBuffers}`. Without it RSS before and after
// opening thousands of sockets would also count whatever garbage the handshakes left behind.
// Nothing else in the server changes; the throughput servers run without it.
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  globalThis.gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.stderr.write(`vigil-bench-memory ${JSON.stringify({ rss, heapUsed, external, arrayBuffers })}\n`);
});
