import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CliError, type Io } from '../io.js';
import { BENCH_USAGE } from '../usage.js';

// src/commands and dist/commands sit at the same depth: the repository's root is four levels up.
const RUNNER = fileURLToPath(new URL('../../../../bench/run.mjs', import.meta.url));

/**
 * `vigil bench`: runs the benchmarks of the source checkout this CLI belongs to (bench/run.mjs,
 * the same as `npm run bench`). They start their own servers and stores, side by side with the
 * alternatives, and need the repository's development dependencies; a published CLI has neither.
 */
export async function bench(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      short: { type: 'boolean', default: false },
      'update-readme': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(`${BENCH_USAGE}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new CliError(`unexpected argument "${positionals[0]}"\n\n${BENCH_USAGE}`, 2);
  if (!existsSync(RUNNER)) {
    throw new CliError(
      'the benchmarks are part of a Vigil source checkout (bench/run.mjs), which this installation does not include',
    );
  }
  const flags = [
    ...(values.short ? ['--short'] : []),
    ...(values['update-readme'] ? ['--update-readme'] : []),
  ];
  const child = spawn(process.execPath, [RUNNER, ...flags], { stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
