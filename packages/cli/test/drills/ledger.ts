// What a drill's clients were told, kept so that it can be checked after a crash: every creation,
// logout, revocation and log-out-everywhere that was acknowledged (201/204/200), and every one whose
// answer never came (it may or may not have happened: either is right). Principle 3: nothing
// acknowledged is ever lost.
import assert from 'node:assert/strict';
import type { LoopbackClient } from '../oracle/loopback-client.js';

export interface KnownSession {
  id: string;
  token: string;
  subject: string;
  /** When its creation was acknowledged. */
  createdAt: number;
  /** The end we asked for and saw acknowledged. */
  ended: 'logout' | 'revoked' | null;
  /** Ends we asked for whose answer never came. */
  maybeEnded: Set<'logout' | 'revoked'>;
  /** An end is being asked for (so no second one is started concurrently). */
  ending: boolean;
}

export class Ledger {
  readonly sessions: KnownSession[] = [];
  /** Log-out-everywhere calls: `subject` and when the request was sent, with whether it was acknowledged. */
  readonly revokeAlls: { subject: string; sentAt: number; acknowledged: boolean }[] = [];
  /** Creations whose answer never came (their tokens are unknown, so they cannot be checked). */
  unknownCreations = 0;

  /** Counts for the report. */
  get counts() {
    return {
      created: this.sessions.length,
      logouts: this.sessions.filter((s) => s.ended === 'logout').length,
      revocations: this.sessions.filter((s) => s.ended === 'revoked').length,
      revokeAlls: this.revokeAlls.filter((r) => r.acknowledged).length,
      unknown:
        this.unknownCreations +
        this.sessions.reduce((n, s) => n + s.maybeEnded.size, 0) +
        this.revokeAlls.filter((r) => !r.acknowledged).length,
    };
  }

  /** How the session must look now: its acknowledged end, else `alive` (plus what may also be true). */
  expected(session: KnownSession): { must: string; may: Set<string> } {
    const may = new Set<string>(session.maybeEnded);
    let must = session.ended ?? 'alive';
    for (const r of this.revokeAlls) {
      if (r.subject !== session.subject) continue;
      // Created before the call was sent: it was live then, so it is revoked (if acknowledged).
      if (r.acknowledged && session.createdAt < r.sentAt && must === 'alive') must = 'revoked';
      else may.add('revoked');
    }
    return { must, may };
  }

  /**
   * Checks every known session against the server: alive ones answer 200 to a read (which touches
   * nothing), ended ones 401 with the reason. Returns how many were checked.
   */
  async verify(client: LoopbackClient): Promise<{ alive: number; ended: number }> {
    const result = { alive: 0, ended: 0 };
    const problems: string[] = [];
    await Promise.all(
      this.sessions.map(async (session) => {
        const reply = await client.request('GET', '/v1/session', {
          headers: { authorization: `Bearer ${session.token}` },
        });
        const { must, may } = this.expected(session);
        const seen =
          reply.status === 200
            ? 'alive'
            : reply.status === 401 && reply.body?.error?.code === 'session_ended'
              ? String(reply.body.error.reason)
              : `${reply.status} ${reply.body?.error?.code ?? ''}`;
        if (seen === 'alive') result.alive++;
        else result.ended++;
        if (seen !== must && !may.has(seen)) {
          problems.push(`${session.subject}/${session.id.slice(0, 8)}: expected ${must}, got ${seen}`);
        }
      }),
    );
    assert.deepEqual(
      problems.slice(0, 20),
      [],
      `${problems.length} acknowledged changes not as acknowledged`,
    );
    return result;
  }
}
