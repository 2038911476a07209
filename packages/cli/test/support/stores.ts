// A fresh store of each kind for one test (or one long run): a SQLite file in a temporary folder, or
// a real redis-server / PostgreSQL started on a free port. Each is removed by the scope's `after`.
import { join } from 'node:path';
import { startPostgres } from '../../../store-postgres/test/postgres-server.js';
import { startRedis } from '../../../store-redis/test/redis-server.js';
import { tempDir } from '../helpers.js';

export type StoreKind = 'sqlite' | 'redis' | 'postgres';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'redis', 'postgres'];

/** What `startVigil`, `tempDir` and the stores need of a test: somewhere to register clean-up. */
export interface Scope {
  after(fn: () => unknown): void;
}

export async function storeSpecFor(scope: Scope, kind: StoreKind): Promise<string> {
  switch (kind) {
    case 'sqlite':
      return `sqlite:${join(tempDir(scope), 'vigil.db')}`;
    case 'redis': {
      const redis = await startRedis();
      scope.after(() => redis.stop());
      return redis.url;
    }
    case 'postgres': {
      const pg = await startPostgres();
      scope.after(() => pg.stop());
      return pg.url;
    }
  }
}

/**
 * A scope outside `node:test` (the long runs): clean-ups run in the order they were registered, as
 * `node:test` runs `after` hooks, each awaited, every one attempted even if another fails.
 */
export class CleanupScope implements Scope {
  readonly #cleanups: (() => unknown)[] = [];

  after(fn: () => unknown): void {
    this.#cleanups.push(fn);
  }

  diagnostic(message: string): void {
    console.log(`# ${message}`);
  }

  async close(): Promise<void> {
    for (const fn of this.#cleanups.splice(0)) {
      try {
        await fn();
      } catch (error) {
        console.error('clean-up failed:', error);
      }
    }
  }
}
