import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  actorFor,
  compareAuditPositions,
  encodeAuditCursor,
} from '../audit-log.js';
import { END_REASONS, type EndReason, ValidationError } from '../errors.js';
import { T0 } from './fixtures.js';
import { prng } from './prng.js';

export interface AuditLogUnderTest {
  log: AuditLog;
  /** Stops what the factory started; called once per test. */
  cleanup(): Promise<void>;
}

/** Builds a fresh, empty audit log for one test. */
export type AuditLogFactory = () => Promise<AuditLogUnderTest>;

const SECOND = 1000;
const DAY = 86_400_000;

let counter = 0;
/** A session id like the real ones (43 base64url characters), unique within the run. */
function sessionId(): string {
  counter += 1;
  return `s${counter.toString(36).padStart(8, '0')}`.padEnd(43, 'x');
}

export function auditEntry(
  subject = 'alice',
  endedAt = T0,
  reason: EndReason = 'revoked',
  id = sessionId(),
): AuditEntry {
  return { sessionId: id, subject, policy: 'default', reason, actor: actorFor(reason), endedAt };
}

/** Newest first, as every query answers. */
function newestFirst(entries: AuditEntry[]): AuditEntry[] {
  return [...entries].sort((a, b) => compareAuditPositions(b, a));
}

/** Every page of a query, following `nextCursor` until it is null (bounded, so a loop cannot hang). */
export async function allPages(log: AuditLog, limit: number, subject?: string): Promise<AuditPage[]> {
  const pages: AuditPage[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const page: AuditPage = await log.query({
      limit,
      ...(subject !== undefined && { subject }),
      ...(cursor !== null && { cursor }),
    });
    pages.push(page);
    if (page.nextCursor === null) return pages;
    assert.equal(page.entries.length, limit, 'a page with a next cursor is full');
    cursor = page.nextCursor;
  }
  throw new Error('paging did not end');
}

/** Subjects a store could confuse: hash-tag braces, escapes, prefixes of each other, non-ASCII, NUL. */
const TRICKY_SUBJECTS = [
  'alice',
  'alice}',
  '{alice}',
  'al%7Dice',
  'a',
  'ålice 😀',
  'tab\there',
  'nul\u0000x',
];

/**
 * The AuditLog contract as tests, run by every log against its real backend. Times are explicit, so
 * nothing sleeps; entries span days and share timestamps, so time-sharded logs page across shards
 * and break ties the one way the contract says.
 */
export function describeAuditLogConformance(name: string, factory: AuditLogFactory): void {
  const withLog = (title: string, body: (log: AuditLog) => Promise<void>) =>
    it(title, async () => {
      const { log, cleanup } = await factory();
      try {
        await body(log);
      } finally {
        await cleanup();
      }
    });

  describe(`AuditLog conformance: ${name}`, () => {
    withLog('an empty log answers an empty last page', async (log) => {
      assert.deepEqual(await log.query({ limit: 10 }), { entries: [], nextCursor: null });
      assert.deepEqual(await log.query({ subject: 'nobody', limit: 10 }), { entries: [], nextCursor: null });
      await log.append([]);
      assert.equal(await log.purge(T0), 0);
    });

    withLog('keeps every field and answers newest first', async (log) => {
      const entries = END_REASONS.map((reason, i) => auditEntry('alice', T0 + i * SECOND, reason));
      await log.append(entries.slice(0, 3));
      await log.append(entries.slice(3));
      const page = await log.query({ limit: 100 });
      assert.deepEqual(page, { entries: newestFirst(entries), nextCursor: null });
      assert.deepEqual(
        page.entries.map((e) => [e.reason, e.actor]),
        [
          ['refresh_reuse', 'reuse'],
          ['evicted', 'system'],
          ['upstream_rejected', 'upstream'],
          ['logout', 'user'],
          ['revoked', 'admin'],
          ['absolute_timeout', 'timeout'],
          ['idle_timeout', 'timeout'],
        ],
      );
    });

    withLog('orders entries that ended at the same moment by session id, newest first', async (log) => {
      const ids = ['b', 'a', 'c', 'ab', 'B', 'a-', 'a_'].map((id) => `${id}`.padEnd(10, '0'));
      const entries = ids.map((id) => auditEntry('tie', T0, 'idle_timeout', id));
      await log.append(entries);
      const expected = [...ids].sort().reverse();
      assert.deepEqual(
        (await log.query({ limit: 100 })).entries.map((e) => e.sessionId),
        expected,
      );
      assert.deepEqual(
        (await allPages(log, 2)).flatMap((page) => page.entries.map((e) => e.sessionId)),
        expected,
      );
    });

    withLog('filters by subject, exactly, whatever characters it holds', async (log) => {
      const entries = TRICKY_SUBJECTS.flatMap((subject, i) => [
        auditEntry(subject, T0 + i * SECOND),
        auditEntry(subject, T0 + i * SECOND + 1, 'logout'),
      ]);
      // The longest subjects the protocol allows: 256 characters, each of two UTF-16 units in `wide`.
      const long = 'x'.repeat(256);
      const wide = '😀'.repeat(256);
      entries.push(auditEntry(long, T0), auditEntry(wide, T0));
      await log.append(entries);
      for (const subject of [...TRICKY_SUBJECTS, long, wide]) {
        const page = await log.query({ subject, limit: 10 });
        assert.deepEqual(
          page.entries,
          newestFirst(entries.filter((e) => e.subject === subject)),
          `subject ${JSON.stringify(subject)}`,
        );
      }
      assert.deepEqual((await log.query({ subject: 'alic', limit: 10 })).entries, []);
    });

    withLog('pages with a cursor: every entry once, in order, the last page says so', async (log) => {
      // 3 subjects over 40 days, several entries sharing each timestamp.
      const entries: AuditEntry[] = [];
      for (let i = 0; i < 120; i++) entries.push(auditEntry(`u${i % 3}`, T0 + Math.floor(i / 4) * (DAY / 3)));
      await log.append(entries);
      for (const limit of [1, 7, 40, 120, 121]) {
        const pages = await allPages(log, limit);
        assert.deepEqual(
          pages.flatMap((p) => p.entries),
          newestFirst(entries),
          `limit ${limit}`,
        );
        assert.equal(pages.length, Math.max(1, Math.ceil(120 / limit)), `pages at limit ${limit}`);
      }
      const u1 = await allPages(log, 9, 'u1');
      assert.deepEqual(
        u1.flatMap((p) => p.entries),
        newestFirst(entries.filter((e) => e.subject === 'u1')),
      );
    });

    withLog('a full last page has no next cursor', async (log) => {
      await log.append([auditEntry('p', T0), auditEntry('p', T0 + 1)]);
      assert.equal((await log.query({ limit: 2 })).nextCursor, null);
      assert.equal((await log.query({ subject: 'p', limit: 2 })).nextCursor, null);
      assert.notEqual((await log.query({ limit: 1 })).nextCursor, null);
    });

    withLog('a cursor keeps its place while entries are added and purged', async (log) => {
      const first = [0, 1, 2, 3].map((i) => auditEntry('k', T0 + i * DAY));
      await log.append(first);
      const page1 = await log.query({ limit: 2 });
      assert.deepEqual(page1.entries, newestFirst(first).slice(0, 2));
      // Newer entries do not shift the next page; purging the entry the cursor names does not break it.
      await log.append([auditEntry('k', T0 + 10 * DAY)]);
      assert.equal(await log.purge(T0 + 2 * DAY + 1), 3);
      const page2 = await log.query({ limit: 2, cursor: page1.nextCursor });
      assert.deepEqual(page2, { entries: [], nextCursor: null });
      const [kept] = newestFirst(first);
      const fromMade = await log.query({
        limit: 5,
        cursor: encodeAuditCursor({ endedAt: T0 + 20 * DAY, sessionId: 'z' }),
      });
      assert.deepEqual(
        fromMade.entries.map((e) => e.endedAt),
        [T0 + 10 * DAY, kept?.endedAt],
      );
    });

    withLog('appending an entry again keeps one', async (log) => {
      const entry = auditEntry('dup', T0);
      await log.append([entry]);
      await log.append([entry, { ...entry }]);
      assert.deepEqual((await log.query({ limit: 10 })).entries, [entry]);
      assert.deepEqual((await log.query({ subject: 'dup', limit: 10 })).entries, [entry]);
      assert.equal(await log.purge(T0 + 1), 1);
    });

    withLog('purges entries that ended before the cutoff, and only those', async (log) => {
      const entries = [0, 1, 2, 3, 4].flatMap((day) => [
        auditEntry('old', T0 + day * DAY),
        auditEntry('new', T0 + day * DAY + SECOND),
      ]);
      await log.append(entries);
      const cutoff = T0 + 2 * DAY + SECOND;
      assert.equal(await log.purge(cutoff), 5);
      const kept = newestFirst(entries.filter((e) => e.endedAt >= cutoff));
      assert.deepEqual((await log.query({ limit: 100 })).entries, kept);
      assert.deepEqual(
        (await log.query({ subject: 'old', limit: 100 })).entries,
        kept.filter((e) => e.subject === 'old'),
      );
      assert.deepEqual(
        (await log.query({ subject: 'new', limit: 100 })).entries,
        kept.filter((e) => e.subject === 'new'),
      );
      assert.equal(await log.purge(cutoff), 0);
      const later = auditEntry('old', T0 + DAY);
      await log.append([later]);
      assert.equal((await log.query({ subject: 'old', limit: 100 })).entries.length, 3);
      assert.equal(await log.purge(T0 + 10 * DAY), 6);
      assert.deepEqual(await log.query({ limit: 100 }), { entries: [], nextCursor: null });
    });

    withLog('purges a large backlog completely', async (log) => {
      const entries = Array.from({ length: 2500 }, (_, i) => auditEntry(`b${i % 50}`, T0 + i * 60 * SECOND));
      for (let i = 0; i < entries.length; i += 500) await log.append(entries.slice(i, i + 500));
      assert.equal(await log.purge(T0 + 2400 * 60 * SECOND), 2400);
      assert.deepEqual((await log.query({ limit: 1000 })).entries, newestFirst(entries.slice(2400)));
    });

    withLog('refuses a malformed cursor with a validation error', async (log) => {
      await log.append([auditEntry()]);
      for (const cursor of [
        'not a cursor',
        '!!',
        'eyJhIjoxfQ',
        encodeAuditCursor({ endedAt: -1, sessionId: 'x' }),
      ]) {
        await assert.rejects(
          log.query({ limit: 10, cursor }),
          (error: unknown) => error instanceof ValidationError && error.details[0]?.field === 'cursor',
          cursor,
        );
      }
    });

    withLog('refuses an entry it cannot keep, keeping nothing of that batch', async (log) => {
      const good = auditEntry('v', T0);
      const bad = { ...auditEntry('v', T0), sessionId: 'has\u0000nul' };
      await assert.rejects(log.append([good, bad]), TypeError);
      await assert.rejects(log.append([{ ...good, endedAt: 1.5 }]), TypeError);
      assert.deepEqual(await log.query({ limit: 10 }), { entries: [], nextCursor: null });
    });

    withLog('matches a plain model over a random history', async (log) => {
      const random = prng(20261123);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const model = new Map<string, AuditEntry>();
      for (let step = 0; step < 60; step++) {
        const roll = random();
        if (roll < 0.5) {
          const batch = Array.from({ length: 1 + Math.floor(random() * 20) }, () =>
            auditEntry(pick(TRICKY_SUBJECTS), T0 + Math.floor(random() * 30) * (DAY / 4), pick(END_REASONS)),
          );
          // Sometimes a retried batch: entries already kept.
          const again = [...model.values()].slice(0, Math.floor(random() * 3));
          await log.append([...batch, ...again]);
          for (const entry of batch) model.set(entry.sessionId, entry);
        } else if (roll < 0.6) {
          const cutoff = T0 + Math.floor(random() * 10) * (DAY / 4);
          const expected = [...model.values()].filter((e) => e.endedAt < cutoff);
          assert.equal(await log.purge(cutoff), expected.length, `step ${step}: purge count`);
          for (const entry of expected) model.delete(entry.sessionId);
        } else {
          const subject = random() < 0.5 ? pick(TRICKY_SUBJECTS) : undefined;
          const limit = 1 + Math.floor(random() * 15);
          const expected = newestFirst(
            [...model.values()].filter((e) => subject === undefined || e.subject === subject),
          );
          const pages = await allPages(log, limit, subject);
          assert.deepEqual(
            pages.flatMap((p) => p.entries),
            expected,
            `step ${step}: query ${JSON.stringify({ subject, limit })}`,
          );
        }
      }
    });
  });
}
