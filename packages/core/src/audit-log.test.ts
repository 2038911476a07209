import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AUDIT_MAX_TIME,
  actorFor,
  auditEntryOf,
  compareCodePoints,
  decodeAuditCursor,
  encodeAuditCursor,
} from './audit-log.js';
import { describeAuditLogConformance } from './conformance/audit-log.js';
import { END_REASONS } from './errors.js';
import { createSession, endSession } from './lifecycle.js';
import { MemoryAuditLog } from './memory-audit-log.js';
import { resolvePolicy } from './policy.js';

describe('audit actors', () => {
  it('attributes each end reason to who ended the session', () => {
    assert.deepEqual(Object.fromEntries(END_REASONS.map((reason) => [reason, actorFor(reason)])), {
      idle_timeout: 'timeout',
      absolute_timeout: 'timeout',
      revoked: 'admin',
      logout: 'user',
      upstream_rejected: 'upstream',
      evicted: 'system',
      refresh_reuse: 'reuse',
    });
  });

  it('attributes a reason it does not know to the system', () => {
    assert.equal(actorFor('some_future_reason'), 'system');
    assert.equal(actorFor('constructor'), 'system');
    assert.equal(actorFor('__proto__'), 'system');
  });

  it('makes an entry from an ended record, and refuses a live one', () => {
    const policy = resolvePolicy('default', { idleTimeout: '1m', absoluteTimeout: '1h' });
    const live = createSession({ id: 'id1', subject: 'alice', policy, now: 1000 });
    assert.throws(() => auditEntryOf(live), TypeError);
    assert.deepEqual(auditEntryOf(endSession(live, 'logout', 5000)), {
      sessionId: 'id1',
      subject: 'alice',
      policy: 'default',
      reason: 'logout',
      actor: 'user',
      endedAt: 5000,
    });
  });
});

describe('audit cursors', () => {
  it('decode to the position they were made from', () => {
    // Printable characters (a session id has no control characters), any plane.
    const printable = fc
      .string({ minLength: 1, maxLength: 256, unit: 'grapheme' })
      .filter((s) => !Array.from(s).some((c) => (c.codePointAt(0) ?? 0) < 0x20 || c === '\u007f'));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: AUDIT_MAX_TIME }), printable, (endedAt, sessionId) => {
        fc.pre(Array.from(sessionId).length <= 256);
        assert.deepEqual(decodeAuditCursor(encodeAuditCursor({ endedAt, sessionId })), {
          endedAt,
          sessionId,
        });
      }),
    );
  });

  it('refuse any other text without throwing', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (text) => {
        const position = decodeAuditCursor(text);
        if (position !== null) assert.deepEqual(decodeAuditCursor(encodeAuditCursor(position)), position);
      }),
    );
    for (const text of ['', '=', 'a'.repeat(1401), Buffer.from('[1]').toString('base64url')]) {
      assert.equal(decodeAuditCursor(text), null, text);
    }
  });
});

describe('code point order', () => {
  it('agrees with UTF-8 byte order', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        assert.equal(Math.sign(compareCodePoints(a, b)), bytes);
      }),
    );
  });
});

describeAuditLogConformance('memory', async () => {
  const log = new MemoryAuditLog();
  return { log, cleanup: () => log.close() };
});
