import type { Clock } from './clock.js';
import { endEvent, type SessionEvents } from './events.js';
import type { Store } from './store.js';

export interface SweeperOptions {
  store: Store;
  clock: Clock;
  events: SessionEvents;
  /** How often to look; a deadline is reported within this much (DESIGN: within 1 s). */
  intervalMs?: number;
  /** Most sessions claimed per kind and round, so one round never blocks for long. */
  batchSize?: number;
  /** How long ended sessions are kept so that a `401` can say why (default 24 h). */
  endedRetentionMs?: number;
  onError?: (error: unknown) => void;
}

/**
 * Reports warnings and expiries and purges old ended sessions. It never decides anything — reads
 * already refuse expired sessions — so a slow or failed round delays events, not enforcement.
 * Each round costs what is due (the store claims through its deadline index), not all sessions.
 */
export class Sweeper {
  readonly #options: Required<SweeperOptions>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;

  constructor(options: SweeperOptions) {
    this.#options = {
      intervalMs: 250,
      batchSize: 1000,
      endedRetentionMs: 24 * 3_600_000,
      onError: () => {},
      ...options,
    };
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const tick = () => {
      this.#running = this.sweep()
        .catch(this.#options.onError)
        .finally(() => {
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.#options.intervalMs).unref();
        });
    };
    this.#timer = setTimeout(tick, this.#options.intervalMs).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  /** One round: warnings, then expiries, then purge, each until nothing more is due. */
  async sweep(): Promise<{ warned: number; expired: number; purged: number }> {
    const { store, clock, events, batchSize, endedRetentionMs } = this.#options;
    const now = clock.now();
    let warned = 0;
    let expired = 0;
    let purged = 0;
    for (
      let batch = await store.claimWarnings(now, batchSize);
      ;
      batch = await store.claimWarnings(now, batchSize)
    ) {
      for (const session of batch) events.emit({ type: 'session.warning', session, at: now });
      warned += batch.length;
      if (batch.length < batchSize) break;
    }
    for (
      let batch = await store.claimExpired(now, batchSize);
      ;
      batch = await store.claimExpired(now, batchSize)
    ) {
      for (const session of batch) events.emit(endEvent(session, now));
      expired += batch.length;
      if (batch.length < batchSize) break;
    }
    for (let count = await store.purgeEnded(now - endedRetentionMs, batchSize); ; ) {
      purged += count;
      if (count < batchSize) break;
      count = await store.purgeEnded(now - endedRetentionMs, batchSize);
    }
    return { warned, expired, purged };
  }
}
