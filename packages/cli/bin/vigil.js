#!/usr/bin/env node
// The `vigil` command. It runs the compiled CLI; `npm ci` (root `prepare`) or `npx tsc -b` builds it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('vigil: the CLI is not built yet; run `npx tsc -b` at the repository root\n');
  process.exit(1);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
// Commands are done here; a handle someone forgot to close must not keep the process alive.
setTimeout(() => process.exit(), 2000).unref();
