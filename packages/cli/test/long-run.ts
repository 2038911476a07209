// The long versions of the correctness oracle and the fault drills (`npm run oracle -- --minutes 10`);
// `npm test` runs the short ones. Prints the figures as it goes and a summary at the end; exits 1 on
// any violation or failed drill.
//
//   --minutes M        oracle run per store (default 10); the drills scale with it
//   --stores LIST      sqlite,redis,postgres (default all three)
//   --users N          simulated users per oracle run (default 1000; 600 on PostgreSQL)
//   --only WHAT        oracle | drills (default both)
import { parseArgs } from 'node:util';
import { diskFullDrill } from './drills/disk-full.js';
import { noiseDrill } from './drills/noise-under-load.js';
import { oracleUnderOutages } from './drills/outage-oracle.js';
import { sigkillDrill } from './drills/sigkill.js';
import { oracleOnStore } from './oracle/on-store.js';
import { formatReport, type OracleReport } from './oracle/simulator.js';
import { CleanupScope, STORE_KINDS, type StoreKind } from './support/stores.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    stores: { type: 'string', default: STORE_KINDS.join(',') },
    users: { type: 'string' },
    only: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
const stores = (values.stores ?? '')
  .split(',')
  .filter((s): s is StoreKind => STORE_KINDS.includes(s as StoreKind));
const usersFor = (kind: StoreKind) =>
  values.users !== undefined ? Number(values.users) : kind === 'postgres' ? 600 : 1000;
const runOracle = values.only !== 'drills';
const runDrills = values.only !== 'oracle';

const summary: string[] = [];
let failed = false;
const violationsIn = (report: OracleReport) => Object.values(report.violations).reduce((a, b) => a + b, 0);

/** Runs one part in its own clean-up scope; a failure is reported and the next part still runs. */
async function part(name: string, body: (scope: CleanupScope) => Promise<string>): Promise<void> {
  const scope = new CleanupScope();
  const startedAt = Date.now();
  console.log(`\n== ${name}`);
  try {
    const result = await body(scope);
    summary.push(`| ${name} | ${result} | ${Math.round((Date.now() - startedAt) / 1000)} s |`);
  } catch (error) {
    failed = true;
    console.error(error);
    summary.push(
      `| ${name} | FAILED: ${(error as Error).message.split('\n')[0]} | ${Math.round((Date.now() - startedAt) / 1000)} s |`,
    );
  } finally {
    await scope.close();
  }
}

function judged(name: string, report: OracleReport): string {
  for (const line of formatReport(name, report)) console.log(line);
  const violations = violationsIn(report);
  if (violations > 0) {
    failed = true;
    console.log(JSON.stringify(report.examples, null, 2));
  }
  const timeouts =
    (report.outcomes['401 idle_timeout'] ?? 0) + (report.outcomes['401 absolute_timeout'] ?? 0);
  return `${report.requests} requests, ${report.sessionsCreated} sessions, ${timeouts} timeouts, ${report.outcomes['503 store_unavailable'] ?? 0} × 503, ${report.closeCalls} near a deadline: **${violations} violations**`;
}

if (runOracle) {
  for (const kind of stores) {
    await part(`oracle, ${kind}, ${minutes} min`, async (scope) => {
      const { report, server } = await oracleOnStore(scope, kind, {
        users: usersFor(kind),
        durationMs: minutes * 60_000,
        seed: Date.now() % 1_000_000,
        onProgress: (r) => console.log(`  … ${r.requests} requests, violations ${violationsIn(r)}`),
      });
      await server.stop();
      return judged(kind, report);
    });
  }
}

if (runDrills) {
  const drillMinutes = Math.max(1, minutes / 2);
  if (stores.includes('sqlite')) {
    await part('SIGKILL mid-load, SQLite, 20 cycles', async (scope) => {
      const f = await sigkillDrill(scope, {
        cycles: 20,
        workers: 16,
        killAfterMs: [300, 3000],
        log: console.log,
      });
      return `${JSON.stringify(f.counts)} acknowledged, all intact; ${f.cutOff} cut off; restart ${Math.min(...f.restartMs)}–${Math.max(...f.restartMs)} ms; integrity ${f.integrity}`;
    });
    await part('disk full, SQLite, 6 rounds', async (scope) => {
      const f = await diskFullDrill(scope, { rounds: 6, fullForMs: 5000, workers: 12, log: console.log });
      return `while full ${JSON.stringify(f.whileFull)}; readyz ${JSON.stringify(f.readyz)}; served again after ${f.recoveryMs.join(', ')} ms; integrity ${f.integrity}`;
    });
    await part(`malformed requests under load, SQLite, ${drillMinutes} min`, async (scope) => {
      const durationMs = drillMinutes * 60_000;
      const { oracle, noise, server, noiseSessions } = await noiseDrill(scope, 'sqlite', {
        users: 1000,
        durationMs,
        noise: Math.round((durationMs / 1000) * 150),
      });
      for (const [kind, statuses] of Object.entries(noise.byKind))
        console.log(`noise ${kind}: ${JSON.stringify(statuses)}`);
      await server.stop();
      if (noise.problems.length > 0 || noiseSessions !== 0) {
        failed = true;
        console.log(noise.problems.slice(0, 20));
      }
      return `${noise.sent} malformed, ${noise.problems.length} answered wrongly, ${noiseSessions} sessions made by them; good users: ${judged('good users', oracle)}`;
    });
  }
  for (const kind of stores.filter((s) => s !== 'sqlite') as ('redis' | 'postgres')[]) {
    await part(`oracle under store outages (freeze, crash), ${kind}, ${drillMinutes} min`, async (scope) => {
      const { report, outages } = await oracleUnderOutages(scope, kind, {
        users: usersFor(kind),
        durationMs: drillMinutes * 60_000,
        everyMs: 15_000,
        downMs: 3000,
        log: console.log,
      });
      const recovery = outages.map((o) => `${o.kind} ${o.recoveredMs} ms`).join(', ');
      return `${judged(kind, report)}; served again after: ${recovery}`;
    });
  }
}

console.log('\n| part | result | time |\n|---|---|---|');
for (const line of summary) console.log(line);
process.exit(failed ? 1 : 0);
