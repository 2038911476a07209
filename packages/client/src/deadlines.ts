import type { SessionStatus } from './types.js';

/** A server status turned into moments on this client's clock. */
export interface Deadlines {
  idleEndsAt: number;
  absoluteEndsAt: number;
  endsAt: number;
  warnAt: number;
}

/**
 * Only the server's relative durations are used, added to the local time at which they arrived:
 * client/server clock skew cancels out, and the request's latency only moves deadlines later here
 * than on the server by that latency, and the server is asked again before anything ends.
 */
export function deadlinesOf(status: SessionStatus, receivedAt: number): Deadlines {
  const idleEndsAt = receivedAt + status.idleExpiresInMs;
  const absoluteEndsAt = receivedAt + status.absoluteExpiresInMs;
  const endsAt = Math.min(idleEndsAt, absoluteEndsAt);
  return { idleEndsAt, absoluteEndsAt, endsAt, warnAt: Math.min(endsAt, receivedAt + status.warnInMs) };
}

/** The reason a session that reached `deadlines.endsAt` ended, as the server would say it. */
export function endReasonOf(deadlines: Deadlines): 'idle_timeout' | 'absolute_timeout' {
  return deadlines.absoluteEndsAt <= deadlines.idleEndsAt ? 'absolute_timeout' : 'idle_timeout';
}
