// The oracle's users against a store that keeps failing: frozen (SIGSTOP) and crashed (Redis killed
// and restarted with its AOF; PostgreSQL stopped with `-m immediate` and started), again and again.
// While it is down the users get 503s, which the judge allows; every other answer is judged as
// usual, so a 401 storm (sessions logged out because the store was away) or a session that outlived
// its deadline is a violation. After each outage the drill times how long until a new session is
// served again.
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres } from '../../../store-postgres/test/postgres-server.js';
import { startRedis } from '../../../store-redis/test/redis-server.js';
import { API_KEY, call } from '../helpers.js';
import { startOracleServerOn } from '../oracle/on-store.js';
import { ORACLE_POLICIES } from '../oracle/policies.js';
import { type OracleReport, runOracle } from '../oracle/simulator.js';
import type { Scope } from '../support/stores.js';

export interface OutageOracleOptions {
  users: number;
  durationMs: number;
  /** Time between outages, and how long each lasts (ms). */
  everyMs: number;
  downMs: number;
  log?: (line: string) => void;
}

export interface Outage {
  kind: 'freeze' | 'crash';
  /** From the first request served again after the store came back (ms). */
  recoveredMs: number;
}

interface FailingStore {
  spec: string;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  crash(): Promise<void>;
  restart(): Promise<void>;
  /** Whether a crash may lose the last moments' touches (PostgreSQL's asynchronous touch commits). */
  crashLosesTouches: boolean;
}

async function failingStore(scope: Scope, kind: 'redis' | 'postgres'): Promise<FailingStore> {
  if (kind === 'redis') {
    // AOF with appendfsync always: every write Redis acknowledged survives its SIGKILL.
    const redis = await startRedis({ persistence: 'aof' });
    scope.after(() => redis.stop());
    return {
      spec: redis.url,
      freeze: async () => redis.pause(),
      thaw: async () => redis.resume(),
      crash: () => redis.kill(),
      restart: () => redis.restart(),
      crashLosesTouches: false,
    };
  }
  const pg = await startPostgres();
  scope.after(() => pg.stop());
  return {
    spec: pg.url,
    freeze: async () => pg.pause(),
    thaw: async () => pg.resume(),
    crash: () => pg.crash(),
    restart: () => pg.start(),
    crashLosesTouches: true,
  };
}

export async function oracleUnderOutages(
  scope: Scope,
  kind: 'redis' | 'postgres',
  options: OutageOracleOptions,
): Promise<{ report: OracleReport; outages: Outage[] }> {
  const store = await failingStore(scope, kind);
  const server = await startOracleServerOn(scope, store.spec);
  const crashes: number[] = [];
  const outages: Outage[] = [];
  const endsAt = Date.now() + options.durationMs;

  const good = runOracle({
    url: server.url,
    apiKey: API_KEY,
    policies: ORACLE_POLICIES,
    users: options.users,
    durationMs: options.durationMs,
    seed: 11,
    judge: { tolerateUnavailable: true, storeCrashes: crashes },
  });

  const servedAgain = async (): Promise<boolean> => {
    const created = await call(server.url, 'POST', '/v1/sessions', {
      auth: API_KEY,
      body: { subject: 'probe' },
    });
    if (created.status !== 201) return false;
    const beat = await call(server.url, 'POST', '/v1/heartbeat', {
      auth: created.body.token,
      body: { state: 'active' },
    });
    return beat.status === 200;
  };

  const faults = (async () => {
    await sleep(options.everyMs);
    for (let i = 0; Date.now() + options.downMs + 5000 < endsAt; i++) {
      const outageKind = i % 2 === 0 ? 'freeze' : 'crash';
      if (outageKind === 'freeze') {
        await store.freeze();
        await sleep(options.downMs);
        await store.thaw();
      } else {
        await store.crash();
        if (store.crashLosesTouches) crashes.push(Date.now());
        await sleep(options.downMs);
        await store.restart();
      }
      const upAt = Date.now();
      while (!(await servedAgain().catch(() => false))) {
        if (Date.now() - upAt > 30_000) throw new Error(`not served again 30 s after the ${outageKind}`);
        await sleep(50);
      }
      outages.push({ kind: outageKind, recoveredMs: Date.now() - upAt });
      options.log?.(
        `${kind} ${outageKind} #${i + 1}: served again ${Date.now() - upAt} ms after it came back`,
      );
      await sleep(options.everyMs);
    }
  })();

  const [report] = await Promise.all([good, faults]);
  return { report, outages };
}
