/**
 * A `Map<string, slot>` for a store that already keeps each key's text in a slot-numbered array:
 * an open-addressing table (linear probing) of slot numbers, 4 bytes a cell and at most 70% full,
 * that reads a candidate's key from the store (`keyOf`) to compare. A Map entry costs about 29
 * bytes per key; this about 7.
 */
export class SlotHashIndex {
  readonly #keyOf: (slot: number) => string | undefined;
  /** 0: empty; -1: deleted; else slot + 1. */
  #table = new Int32Array(16);
  #size = 0;
  /** Live and deleted cells: probes stop only at an empty one. */
  #filled = 0;

  constructor(keyOf: (slot: number) => string | undefined) {
    this.#keyOf = keyOf;
  }

  get size(): number {
    return this.#size;
  }

  get(key: string): number | undefined {
    const at = this.#find(key);
    return at < 0 ? undefined : (this.#table[at] ?? 0) - 1;
  }

  /** Points `key` at `slot`; `keyOf(slot)` must already answer `key`. */
  set(key: string, slot: number): void {
    const at = this.#find(key);
    if (at >= 0) {
      this.#table[at] = slot + 1;
      return;
    }
    if ((this.#filled + 1) * 10 > this.#table.length * 7) this.#rehash();
    const mask = this.#table.length - 1;
    let i = hash(key) & mask;
    while ((this.#table[i] ?? 0) > 0) i = (i + 1) & mask;
    if (this.#table[i] === 0) this.#filled++;
    this.#table[i] = slot + 1;
    this.#size++;
  }

  delete(key: string): void {
    const at = this.#find(key);
    if (at < 0) return;
    this.#table[at] = -1;
    this.#size--;
  }

  /** The cell holding `key`, or -1. */
  #find(key: string): number {
    const table = this.#table;
    const mask = table.length - 1;
    for (let i = hash(key) & mask; ; i = (i + 1) & mask) {
      const cell = table[i] ?? 0;
      if (cell === 0) return -1;
      if (cell > 0 && this.#keyOf(cell - 1) === key) return i;
    }
  }

  /** Rebuilds without deleted cells, larger while live keys would fill more than half of it. */
  #rehash(): void {
    const old = this.#table;
    let length = old.length;
    while ((this.#size + 1) * 2 > length) length *= 2;
    const table = new Int32Array(length);
    const mask = length - 1;
    for (const cell of old) {
      if (cell <= 0) continue;
      let i = hash(this.#keyOf(cell - 1) ?? '') & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = cell;
    }
    this.#table = table;
    this.#filled = this.#size;
  }
}

/** FNV-1a over the UTF-16 code units, with a final mix so that the low bits spread. */
function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  return (h ^ (h >>> 16)) >>> 0;
}
