import type { Clock, Timers } from '../../src/types.js';

/** A clock and timers that only move when a test says so. */
export class FakeTime implements Clock, Timers {
  #now: number;
  #seq = 0;
  #timers = new Map<number, { at: number; seq: number; callback: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now = (): number => this.#now;

  setTimeout = (callback: () => void, ms: number): unknown => {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, callback });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward, running due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (let runs = 0; ; runs++) {
      if (runs > 100_000) throw new Error(`timers keep firing at ${this.#now}: a scheduling loop`);
      let next: [number, { at: number; seq: number; callback: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at > end) continue;
        if (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq))
          next = entry;
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].callback();
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Jumps the clock without running timers, as a machine waking from sleep sees it. */
  jump(ms: number): void {
    this.#now += ms;
  }
}

/** Lets pending promise chains and I/O callbacks (real ones: fetch is faked) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
