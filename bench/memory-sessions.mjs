// Memory per live session in a process's own memory, measured in a fresh process per system (run by
// bench/run.mjs with --expose-gc): Vigil's MemoryStore (`vigil serve --store memory`) or
// express-session's MemoryStore, each given `count` live sessions through its own API, as a
// login would make them. Prints JSON: heap and RSS growth per session after a full GC.
//
//   node --expose-gc bench/memory-sessions.mjs '{"system":"vigil"|"express-session","count":1000000}'
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';

const { system, count } = JSON.parse(process.argv[2]);
if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');

function settle() {
  for (let i = 0; i < 4; i++) globalThis.gc();
  const { heapUsed, external } = process.memoryUsage();
  return { heap: heapUsed + external, rss: process.memoryUsage.rss() };
}

/**
 * A user id as applications have them (a UUID), so that both systems hold the same subject text.
 * Joined, not concatenated: like a subject parsed from a request body, it is one flat string.
 */
const subjectOf = (i) =>
  [(0x10000000 + i).toString(16), '0000', '4000', '8000', (0x100000000000 + i).toString(16)].join('-');

async function fillVigil() {
  const { MemoryStore, createSession, newSessionToken, resolveConfig, sessionIdFor } = await import(
    '@vigil/core'
  );
  const policy = resolveConfig({}).policies.get('default');
  const store = new MemoryStore();
  const now = Date.now();
  const before = settle();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const record = createSession({
      id: sessionIdFor(newSessionToken()),
      subject: subjectOf(i),
      policy,
      now: now + Math.floor(i / 100),
    });
    await store.create(record, { maxSessions: policy.maxSessions });
  }
  return { store, before, seconds: (performance.now() - started) / 1000 };
}

async function fillExpressSession() {
  const require = createRequire(import.meta.url);
  const session = require('express-session');
  const store = new session.MemoryStore();
  const maxAge = 15 * 60_000;
  const before = settle();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    // What express-session stores for a logged-in user (bench/express-session.mjs): its cookie
    // settings and the user, under a 24-byte random id (its default uid-safe length).
    const data = {
      cookie: {
        originalMaxAge: maxAge,
        expires: new Date(Date.now() + maxAge),
        secure: false,
        httpOnly: true,
        path: '/',
        sameSite: 'lax',
      },
      user: { subject: subjectOf(i), loggedInAt: Date.now() },
    };
    await new Promise((resolve, reject) =>
      store.set(randomBytes(24).toString('base64url'), data, (error) => (error ? reject(error) : resolve())),
    );
  }
  return { store, before, seconds: (performance.now() - started) / 1000 };
}

const { store, before, seconds } = system === 'vigil' ? await fillVigil() : await fillExpressSession();
const after = settle();
const live = system === 'vigil' ? count : Object.keys(store.sessions).length;
process.stdout.write(
  `${JSON.stringify({
    system,
    sessions: live,
    heapBytesPerSession: Math.round((after.heap - before.heap) / count),
    rssBytesPerSession: Math.round((after.rss - before.rss) / count),
    rssAfterMiB: Math.round(after.rss / 2 ** 20),
    createdPerSecond: Math.round(count / seconds),
  })}\n`,
);
// Keeps the store reachable until the figures are taken.
if (store === null) process.exit(1);
