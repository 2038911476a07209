// Runs every test file of the repository (or of the folders given) with Node's own test runner,
// on the TypeScript sources: tsx compiles on the fly and the `vigil-source` export condition makes
// workspace packages resolve to each other's `src/` instead of a possibly stale `dist/`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['packages', 'examples', 'bench'];

function findTests(dir, found = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, found);
    else if (/\.test\.(ts|mts|mjs)$/.test(name)) found.push(relative(root, path));
  }
  return found;
}

const files = roots.flatMap((dir) => findTests(join(root, dir))).sort();
if (files.length === 0) {
  console.error('no test files found under', roots.join(', '));
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--conditions=vigil-source', '--import', 'tsx', '--test', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, VIGIL_TEST: '1' } },
);
process.exit(result.status ?? 1);
