/** The times a session keeps besides its creation, in the order `SlotTimes` stores them. */
export const TIME = {
  lastActivity: 0,
  lastSeen: 1,
  idleExpires: 2,
  absoluteExpires: 3,
  /** The memory store's `warnAt` while live, `endedAt` once ended; NaN for none. */
  mark: 4,
} as const;
export type TimeField = (typeof TIME)[keyof typeof TIME];
export const FIELDS = 5;

/** Offsets at the top of the 32-bit range mean no time (NaN) and a time kept in full aside. */
const NONE = 0xffff_ffff;
const ASIDE = 0xffff_fffe;

/**
 * The times of sessions kept in numbered slots, at 4 bytes a time instead of 8: each as whole
 * milliseconds after the session's creation (a float64 of its own). That covers 49 days after
 * creation, more than any sign-in lasts; a time that does not fit (further away, before creation,
 * not a whole number of milliseconds after it) is kept in full in a map beside, so every value
 * reads back exactly as it was put.
 */
export class SlotTimes {
  #createdAt: Float64Array = new Float64Array(0);
  #offsets: Uint32Array = new Uint32Array(0);
  /** Slot → its five times in full, for the few slots with a time that did not fit. */
  readonly #aside = new Map<number, Float64Array>();

  /** Bytes a slot takes in the arrays `grow` is given. */
  static readonly bytesPerSlot = 8 + 4 * FIELDS;

  /**
   * Moves to larger arrays (zeroed, `capacity` creation times and `capacity * 5` offsets), keeping
   * what the slots held; new slots read as created at 0 with no times.
   */
  grow(createdAt: Float64Array, offsets: Uint32Array): void {
    createdAt.set(this.#createdAt);
    offsets.set(this.#offsets);
    offsets.fill(NONE, this.#offsets.length);
    this.#createdAt = createdAt;
    this.#offsets = offsets;
  }

  createdAt(slot: number): number {
    return this.#createdAt[slot] ?? 0;
  }

  get(slot: number, field: TimeField): number {
    const offset = this.#offsets[slot * FIELDS + field] ?? NONE;
    if (offset < ASIDE) return (this.#createdAt[slot] ?? 0) + offset;
    if (offset === NONE) return Number.NaN;
    return this.#aside.get(slot)?.[field] ?? Number.NaN;
  }

  /** Sets a slot's creation and its five times (in `TIME` order; NaN for none). */
  put(slot: number, createdAt: number, times: readonly [number, number, number, number, number]): void {
    this.#createdAt[slot] = createdAt;
    const base = slot * FIELDS;
    let aside: Float64Array | undefined;
    for (let field = 0; field < FIELDS; field++) {
      const time = times[field] as number;
      const offset = time - createdAt;
      if (Number.isNaN(time)) {
        this.#offsets[base + field] = NONE;
      } else if (
        Number.isInteger(offset) &&
        offset >= 0 &&
        offset < ASIDE &&
        Object.is(createdAt + offset, time)
      ) {
        this.#offsets[base + field] = offset;
      } else {
        aside ??= new Float64Array(FIELDS);
        aside[field] = time;
        this.#offsets[base + field] = ASIDE;
      }
    }
    if (aside !== undefined) this.#aside.set(slot, aside);
    else this.#aside.delete(slot);
  }

  /** The slot is free again. */
  clear(slot: number): void {
    this.#aside.delete(slot);
  }

  /** Slots with a time kept in full (a gauge for tests). */
  get asideCount(): number {
    return this.#aside.size;
  }
}
