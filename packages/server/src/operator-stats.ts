import {
  type Clock,
  END_REASONS,
  type EndReason,
  expiresAt,
  type SessionEvent,
  type SessionEvents,
} from '@vigil/core';
import { RecentCounts } from './recent-counts.js';

export interface OperatorStatsOptions {
  clock: Clock;
  events: SessionEvents;
  /** The recent history: `size` buckets of `bucketMs` (default 360 × 10 s, the last hour). */
  history?: { bucketMs: number; size: number };
  /** Most sessions remembered as being in their warning period (default 100 000). */
  maxWarned?: number;
}

export type HistorySeries = 'heartbeats' | 'expired' | 'revoked';
const HISTORY_SERIES: readonly HistorySeries[] = ['heartbeats', 'expired', 'revoked'];

export interface StatsSnapshot {
  startedAt: number;
  created: number;
  heartbeats: { active: number; sleeping: number };
  ended: Record<EndReason, number>;
  /** Sessions in their warning period, by policy (as far as this node has heard). */
  warning: Map<string, number>;
  recent: { bucketMs: number; from: number; series: Record<HistorySeries, number[]> };
}

/**
 * What the dashboard and `vigil stats` show besides the store's live counts: counters since this
 * node started and a short history, kept in memory at O(1) per event. The store cannot say which
 * live sessions are in their warning period, so that is followed from the events (`warning` adds,
 * `extended` and the end remove); after a restart, sessions warned before it are counted as active
 * until they end or are extended, which is at most their policy's `warnBefore` later.
 *
 * Heartbeats are those this node accepted; creations and ends are every event on this node's bus,
 * which with a cross-node store includes the other nodes' (each end is one event cluster-wide).
 */
export class OperatorStats {
  readonly startedAt: number;
  readonly #clock: Clock;
  readonly #recent: RecentCounts<HistorySeries>;
  readonly #maxWarned: number;
  /** Warned sessions: id → policy and the deadline at the time of the warning. */
  readonly #warned = new Map<string, { policy: string; endsAt: number }>();
  readonly #ended = Object.fromEntries(END_REASONS.map((reason) => [reason, 0])) as Record<EndReason, number>;
  readonly #heartbeats = { active: 0, sleeping: 0 };
  #created = 0;
  readonly #unsubscribe: () => void;

  constructor({ clock, events, history, maxWarned = 100_000 }: OperatorStatsOptions) {
    this.#clock = clock;
    this.startedAt = clock.now();
    this.#recent = new RecentCounts(HISTORY_SERIES, history ?? { bucketMs: 10_000, size: 360 });
    this.#maxWarned = maxWarned;
    this.#unsubscribe = events.on((event) => this.#onEvent(event));
  }

  /** An accepted heartbeat (the caller filters out refused ones). */
  heartbeat(state: 'active' | 'sleeping'): void {
    this.#heartbeats[state]++;
    this.#recent.add('heartbeats', this.#clock.now());
  }

  snapshot(now = this.#clock.now()): StatsSnapshot {
    const warning = new Map<string, number>();
    for (const [id, { policy, endsAt }] of this.#warned) {
      // An end this node never heard of (a lost cross-node message) must not count forever.
      if (endsAt <= now) {
        this.#warned.delete(id);
        continue;
      }
      warning.set(policy, (warning.get(policy) ?? 0) + 1);
    }
    const { from, series } = this.#recent.read(now);
    return {
      startedAt: this.startedAt,
      created: this.#created,
      heartbeats: { ...this.#heartbeats },
      ended: { ...this.#ended },
      warning,
      recent: { bucketMs: this.#recent.bucketMs, from, series },
    };
  }

  stop(): void {
    this.#unsubscribe();
  }

  #onEvent(event: SessionEvent): void {
    const { session } = event;
    switch (event.type) {
      case 'session.created':
        this.#created++;
        break;
      case 'session.warning':
        if (!this.#warned.has(session.id) && this.#warned.size >= this.#maxWarned) {
          const oldest = this.#warned.keys().next();
          if (!oldest.done) this.#warned.delete(oldest.value);
        }
        this.#warned.set(session.id, { policy: session.policy, endsAt: expiresAt(session) });
        break;
      case 'session.extended':
        this.#warned.delete(session.id);
        break;
      case 'session.expired':
      case 'session.revoked':
        this.#warned.delete(session.id);
        // A reason this version does not know (a newer node's event) still counts in the history.
        if (session.reason !== null && Object.hasOwn(this.#ended, session.reason))
          this.#ended[session.reason]++;
        this.#recent.add(event.type === 'session.expired' ? 'expired' : 'revoked', event.at);
        break;
      default:
        break;
    }
  }
}
