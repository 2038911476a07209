import { readFileSync } from 'node:fs';
import { ValidationError } from '@vigil/core';
import { ConfigProblems, formatProblems } from './config-file.js';
import { CliError, type Io, processIo } from './io.js';
import {
  BENCH_USAGE,
  CHECK_CONFIG_USAGE,
  KEYS_USAGE,
  MIGRATE_USAGE,
  SERVE_USAGE,
  SESSIONS_USAGE,
  STATS_USAGE,
  USAGE,
} from './usage.js';

type Command = (args: string[], io: Io) => Promise<number>;

// Loaded on use: `check-config` and `--help` start fast and never load Fastify or SQLite.
const COMMANDS: Record<string, { load: () => Promise<Command>; usage: string }> = {
  serve: { load: async () => (await import('./commands/serve.js')).serve, usage: SERVE_USAGE },
  'check-config': {
    load: async () => (await import('./commands/check-config.js')).checkConfig,
    usage: CHECK_CONFIG_USAGE,
  },
  migrate: { load: async () => (await import('./commands/migrate.js')).migrate, usage: MIGRATE_USAGE },
  keys: { load: async () => (await import('./commands/keys.js')).keys, usage: KEYS_USAGE },
  sessions: { load: async () => (await import('./commands/sessions.js')).sessions, usage: SESSIONS_USAGE },
  stats: { load: async () => (await import('./commands/stats.js')).stats, usage: STATS_USAGE },
  bench: { load: async () => (await import('./commands/bench.js')).bench, usage: BENCH_USAGE },
};

export function version(): string {
  // src/main.ts and dist/main.js both sit one level below the package root.
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Runs one command and returns the exit status; problems become one clear message, not a stack. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    const command = topic === undefined ? undefined : COMMANDS[topic];
    if (topic !== undefined && command === undefined) {
      io.stderr(`vigil: no help on "${topic}": it is not a command\n\n${USAGE}\n`);
      return 2;
    }
    (first === undefined ? io.stderr : io.stdout)(`${command?.usage ?? USAGE}\n`);
    return first === undefined ? 2 : 0;
  }
  if (first === '-v' || first === '--version') {
    io.stdout(`vigil ${version()}\n`);
    return 0;
  }
  const command = COMMANDS[first];
  if (command === undefined) {
    io.stderr(`vigil: unknown command "${first}"\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(`${command.usage}\n`);
    return 0;
  }
  try {
    const run = await command.load();
    return await run(rest, io);
  } catch (error) {
    if (error instanceof ConfigProblems) {
      // Already names the file; one problem per line, as `check-config` documents.
      io.stderr(`${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.stderr(`vigil ${first}: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof ValidationError) {
      io.stderr(`vigil ${first}: ${formatProblems('config', error.details)}\n`);
      return 1;
    }
    // parseArgs errors (unknown option, missing value) are the user's to fix: no stack trace.
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`vigil ${first}: ${(error as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    throw error;
  }
}
