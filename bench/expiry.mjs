// What the sweeper costs as a function of what expires and of what is stored, in a fresh process
// per case (run by bench/run.mjs): a store holding `live` sessions of which `due` have passed their
// deadline, then one Sweeper round (claims, events, purge) timed, then a second round with nothing
// due. Prints JSON. SQLite files are filled with one bulk transaction (creating a million
// sessions through `create`, each committed and synced, would take the bench's whole budget), in
// exactly the rows `create` writes.
//
//   node bench/expiry.mjs '{"store":"memory"|"sqlite","live":1000000,"due":10000,"dir":"/tmp/x"}'
import { join } from 'node:path';
import {
  createSession,
  ManualClock,
  MemoryStore,
  newSessionToken,
  resolvePolicy,
  SessionEvents,
  Sweeper,
  sessionIdFor,
} from '@vigil/core';

const { store: kind, live, due, dir } = JSON.parse(process.argv[2]);
const NOW = Date.UTC(2026, 0, 5, 12);
const SECOND = 1000;
// No warnings: the round measured is the expiry claim (and the events it emits), nothing else.
const policy = resolvePolicy('default', { idleTimeout: '15m', absoluteTimeout: '8h', warnBefore: 0 });

/** Session i: the first `due` ones ended their idle timeout within the last minute, the rest live on. */
function recordOf(i) {
  const createdAt =
    i < due ? NOW - policy.idleTimeoutMs - SECOND - (i % 60) * SECOND : NOW - (i % 600) * SECOND;
  return createSession({ id: sessionIdFor(newSessionToken()), subject: `user-${i}`, policy, now: createdAt });
}

async function memoryStore() {
  const store = new MemoryStore();
  for (let i = 0; i < live; i++) await store.create(recordOf(i), { maxSessions: null });
  return store;
}

async function sqliteStore() {
  const { SqliteStore } = await import('@vigil/store-sqlite');
  const { default: Database } = await import('better-sqlite3');
  const path = join(dir, `expiry-${live}-${due}.db`);
  await (await SqliteStore.open({ path })).close(); // the schema, as the store makes it
  const db = new Database(path);
  db.pragma('synchronous = OFF');
  const insert = db.prepare(`INSERT INTO sessions (id, subject, policy, created_at, last_activity_at,
    last_seen_at, idle_expires_at, absolute_expires_at, warn_at, attributes, ended_at, reason,
    expiry_due_at, warn_due_at)
    VALUES (@id, @subject, @policy, @createdAt, @lastActivityAt, @lastSeenAt, @idleExpiresAt,
      @absoluteExpiresAt, NULL, '{}', NULL, NULL, min(@idleExpiresAt, @absoluteExpiresAt), NULL)`);
  db.transaction(() => {
    for (let i = 0; i < live; i++) {
      const { attributes: _, warnAt: __, endedAt: ___, reason: ____, ...row } = recordOf(i);
      insert.run(row);
    }
  })();
  db.close();
  return SqliteStore.open({ path });
}

const filled = performance.now();
const store = kind === 'memory' ? await memoryStore() : await sqliteStore();
const fillSeconds = (performance.now() - filled) / 1000;

const events = new SessionEvents();
let expiredEvents = 0;
events.on((event) => {
  if (event.type === 'session.expired') expiredEvents++;
});
const sweeper = new Sweeper({ store, clock: new ManualClock(NOW), events });

async function timedRound() {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await sweeper.sweep();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return {
    ...result,
    wallMs: Number(wallMs.toFixed(2)),
    cpuMs: Number(((used.user + used.system) / 1000).toFixed(2)),
  };
}

const round = await timedRound();
const idleRound = await timedRound();
await store.close();
if (round.expired !== due || expiredEvents !== due) {
  throw new Error(
    `expected ${due} expiries, the sweeper claimed ${round.expired} and emitted ${expiredEvents}`,
  );
}
process.stdout.write(
  `${JSON.stringify({
    store: kind,
    live,
    due,
    fillSeconds: Number(fillSeconds.toFixed(1)),
    round,
    idleRound,
    microsPerExpired: due === 0 ? null : Number(((round.wallMs * 1000) / due).toFixed(1)),
  })}\n`,
);
