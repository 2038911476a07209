import {
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  auditEntryOf,
  boundedCall,
  type Clock,
  checkAuditEntry,
  isRemoteEvent,
  type SessionEvent,
  type SessionEvents,
  StoreUnavailableError,
} from '@vigil/core';
import type { FastifyBaseLogger } from 'fastify';

export interface AuditTrailTuning {
  /** How long an end waits to be written with others (default 100 ms). */
  flushDelayMs?: number;
  /** Most entries per append (default 500). */
  batchSize?: number;
  /** Entries kept waiting while the log cannot be written; beyond it the oldest are dropped (default 10 000). */
  maxPending?: number;
  /** How often old entries are purged, when the housekeeping timers run (default 10 min). */
  purgeIntervalMs?: number;
  /** First wait after a failed append; doubles up to 30 s (default 1 s). */
  retryDelayMs?: number;
}

export interface AuditTrailOptions extends AuditTrailTuning {
  log: AuditLog;
  events: SessionEvents;
  clock: Clock;
  /** Entries older than this are purged (config `audit.retention`). */
  retentionMs: number;
  /** Longest one call to the log may take (config `storeTimeout`). */
  timeoutMs: number;
  logger: FastifyBaseLogger;
}

export interface AuditTrailStats {
  /** Entries this node has written. */
  written: number;
  /** Entries waiting to be written. */
  pending: number;
  /** Entries given up (the waiting room was full, or an entry no log can keep). */
  dropped: number;
}

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * Writes the audit trail: one entry per session end, from the `session.expired` / `session.revoked`
 * events on this node's bus. Events relayed from other nodes are skipped — the node where the end
 * happened writes it — so each end is written once in the cluster.
 *
 * The entry is written after the end is committed (the event follows the store's answer), in
 * batches a few ms later. So a crash between the two loses that entry, never the end itself; a log
 * that cannot be written (an outage) delays entries, retried with backoff, up to `maxPending`.
 */
export class AuditTrail {
  /** The log's calls, each ended within `timeoutMs`; a failure other than a refusal is `store_unavailable`. */
  readonly #log: Pick<AuditLog, 'append' | 'query' | 'purge'>;
  readonly #clock: Clock;
  readonly #retentionMs: number;
  readonly #logger: FastifyBaseLogger;
  readonly #flushDelayMs: number;
  readonly #batchSize: number;
  readonly #maxPending: number;
  readonly #purgeIntervalMs: number;
  readonly #retryDelayMs: number;
  readonly #unsubscribe: () => void;
  #pending: AuditEntry[] = [];
  #writing: Promise<void> = Promise.resolve();
  #flushTimer: NodeJS.Timeout | undefined;
  #purgeTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #written = 0;
  #dropped = 0;
  #stopped = false;

  constructor(options: AuditTrailOptions) {
    const { log } = options;
    const bounds = { timeoutMs: options.timeoutMs, label: 'audit log' };
    this.#log = {
      append: boundedCall(log, 'append', log.append, bounds),
      query: boundedCall(log, 'query', log.query, bounds),
      purge: boundedCall(log, 'purge', log.purge, bounds),
    };
    this.#clock = options.clock;
    this.#retentionMs = options.retentionMs;
    this.#logger = options.logger;
    this.#flushDelayMs = options.flushDelayMs ?? 100;
    this.#batchSize = options.batchSize ?? 500;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#purgeIntervalMs = options.purgeIntervalMs ?? 600_000;
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
    this.#unsubscribe = options.events.on((event) => this.#onEvent(event));
  }

  /** Starts the purge timer (with the app's other housekeeping); the first purge runs at once. */
  startPurging(): void {
    if (this.#purgeTimer !== undefined || this.#stopped) return;
    const tick = () => {
      this.purge()
        .catch((error: unknown) => this.#warn(error, 'audit purge failed; retried next round'))
        .finally(() => {
          if (this.#purgeTimer !== undefined)
            this.#purgeTimer = setTimeout(tick, this.#purgeIntervalMs).unref();
        });
    };
    this.#purgeTimer = setTimeout(tick, 0).unref();
  }

  /** Writes everything waiting now; rejects (entries kept for a retry) if the log cannot be written. */
  flush(): Promise<void> {
    const run = this.#writing.then(() => this.#drain());
    this.#writing = run.catch(() => {});
    return run;
  }

  /** Deletes entries older than the retention; returns how many. */
  purge(): Promise<number> {
    return this.#log.purge(this.#clock.now() - this.#retentionMs);
  }

  /** A page of the trail (after writing what this node still holds, so its own ends are there). */
  async query(query: AuditQuery): Promise<AuditPage> {
    await this.flush().catch(() => {});
    return this.#log.query(query);
  }

  stats(): AuditTrailStats {
    return { written: this.#written, pending: this.#pending.length, dropped: this.#dropped };
  }

  /** Stops listening and the timers, then makes one last attempt to write what is waiting. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe();
    clearTimeout(this.#purgeTimer);
    this.#purgeTimer = undefined;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    await this.flush().catch((error: unknown) => {
      this.#warn(error, 'audit entries not written before shutdown');
    });
  }

  #onEvent(event: SessionEvent): void {
    if (event.type !== 'session.expired' && event.type !== 'session.revoked') return;
    // The node where the end happened writes it; a relayed copy would be a second entry.
    if (isRemoteEvent(event)) return;
    let entry: AuditEntry;
    try {
      entry = auditEntryOf(event.session);
      checkAuditEntry(entry);
    } catch (error) {
      this.#dropped += 1;
      this.#logger.error({ err: error, sessionId: event.session.id }, 'session end not auditable; dropped');
      return;
    }
    this.#pending.push(entry);
    if (this.#pending.length > this.#maxPending) {
      const over = this.#pending.length - this.#maxPending;
      this.#pending.splice(0, over);
      this.#dropped += over;
      this.#logger.warn(
        { dropped: over, maxPending: this.#maxPending },
        'audit log unavailable: oldest waiting entries dropped',
      );
    }
    this.#schedule(this.#flushDelayMs);
  }

  #schedule(delayMs: number): void {
    if (this.#flushTimer !== undefined || this.#stopped) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.flush().then(
        () => {
          this.#failures = 0;
        },
        (error: unknown) => {
          this.#failures += 1;
          const wait = Math.min(
            MAX_RETRY_DELAY_MS,
            this.#retryDelayMs * 2 ** Math.min(this.#failures - 1, 15),
          );
          this.#warn(error, 'audit append failed; retrying', {
            retryInMs: wait,
            pending: this.#pending.length,
          });
          this.#schedule(wait);
        },
      );
    }, delayMs).unref();
  }

  /** Appends batch after batch until nothing waits; a failed batch goes back to the front. */
  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#batchSize);
      try {
        await this.#log.append(batch);
      } catch (error) {
        // Back in front, in order; what overflowed meanwhile is counted as dropped (oldest first).
        this.#pending = batch.concat(this.#pending);
        const over = this.#pending.length - this.#maxPending;
        if (over > 0) {
          this.#pending.splice(0, over);
          this.#dropped += over;
        }
        throw error;
      }
      this.#written += batch.length;
    }
  }

  #warn(error: unknown, message: string, extra: object = {}): void {
    const detail =
      error instanceof StoreUnavailableError ? { code: error.code, reason: error.message } : { err: error };
    this.#logger.warn({ ...detail, ...extra }, message);
  }
}
