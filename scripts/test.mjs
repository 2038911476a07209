// Runs every test file of the repository (or of the folders given) with Node's own test runner,
// on the TypeScript sources: tsx compiles on the fly and the `vigil-source` export condition makes
// workspace packages resolve to each other's `src/` instead of a possibly stale `dist/`.
import { spawn, spawnSync } from 'node:child_process';
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
// A file that never finishes (a test waiting on a socket nobody closes, say) would otherwise hold
// the run until CI's own limit and end it with no word on which file it was. Past this many minutes
// the run stops, naming the test files still running; a whole healthy run takes about ten.
const watchdogMinutes = Number(process.env.VIGIL_TEST_WATCHDOG_MINUTES ?? 30);

const runner = spawn(
  process.execPath,
  ['--conditions=vigil-source', '--import', 'tsx', '--test', '--test-concurrency=2', ...files],
  // Its own process group, so that the watchdog can end it with every test file it started.
  { cwd: root, stdio: 'inherit', env: { ...process.env, VIGIL_TEST: '1' }, detached: true },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => killGroup(signal));
}
const watchdog = setTimeout(() => {
  const running = spawnSync('ps', ['-o', 'etime=,args=', '--ppid', String(runner.pid)], { encoding: 'utf8' });
  console.error(`\nThe tests have run for ${watchdogMinutes} minutes: something hangs. Still running:`);
  console.error(running.stdout || '(no test file)');
  killGroup('SIGKILL');
  process.exit(1);
}, watchdogMinutes * 60_000);
runner.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  process.exit(code ?? (signal ? 1 : 0));
});

function killGroup(signal) {
  try {
    process.kill(-runner.pid, signal);
  } catch {
    // Already gone.
  }
}
