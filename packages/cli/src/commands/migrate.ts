import { parseArgs } from 'node:util';
import type { Store } from '@vigil/core';
import { CliError, type Io } from '../io.js';
import { openAuditLog, openStore, parseStoreSpec, redactSpec } from '../store-spec.js';
import { MIGRATE_USAGE } from '../usage.js';

interface Migratable extends Store {
  migrate?: () => unknown;
}

/** `vigil migrate --store SPEC`: opening a store runs its migrations; an explicit `migrate()` too. */
export async function migrate(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { store: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    io.stdout(`${MIGRATE_USAGE}\n`);
    return 0;
  }
  if (values.store === undefined) throw new CliError(`--store is required\n\n${MIGRATE_USAGE}`, 2);
  const spec = parseStoreSpec(values.store, io.cwd);
  if (spec.kind === 'memory') throw new CliError('the memory store has no schema to migrate', 2);
  const store = (await openStore(spec)) as Migratable;
  try {
    if (typeof store.migrate === 'function') await store.migrate();
    await store.ping();
  } finally {
    await store.close();
  }
  // The audit trail's tables (SQLite, PostgreSQL) are created as it opens.
  await (await openAuditLog(spec)).close();
  io.stderr(`${redactSpec(values.store)}: schema is up to date\n`);
  return 0;
}
