import Database from 'better-sqlite3';

/**
 * Waits between two tries of a call that met a lock, in ms: short at first (most locks last one
 * commit), then SQLite's own busy handler's pace, capped so that a lock let go is noticed soon.
 */
const RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 50] as const;
const MAX_RETRY_DELAY_MS = 50;

/** `SQLITE_BUSY` and its extended codes: another connection holds the lock; try again later. */
export function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
}

interface Waiting {
  /** Runs the call once: true once it has settled (answered or failed), false to try again later. */
  attempt(): boolean;
  deadline: number;
  tries: number;
}

/** A promise's settling functions, with the lock-waiting bound of one call. */
interface Call<T> {
  body: () => T;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  deadline: number;
}

function attemptOf<T>({ body, resolve, reject, deadline }: Call<T>): () => boolean {
  return () => {
    try {
      resolve(body());
    } catch (error) {
      if (isBusy(error) && performance.now() < deadline) return false;
      reject(error);
    }
    return true;
  };
}

function waitingFor<T>(call: Call<T>): Waiting {
  return { attempt: attemptOf(call), deadline: call.deadline, tries: 0 };
}

function delayOf({ tries, deadline }: Waiting): number {
  const step = RETRY_DELAYS_MS[tries] ?? MAX_RETRY_DELAY_MS;
  return Math.max(0, Math.min(step, deadline - performance.now()));
}

/**
 * The calls of one better-sqlite3 connection, in the order made, waiting for locks held by other
 * connections (other processes) on timers instead of in SQLite's busy handler.
 *
 * better-sqlite3 runs every statement on the event loop, so a busy timeout there sleeps the whole
 * process: every request, timer and `/healthz` waits with it, and calls queue behind each other's
 * sleeps, so the server's `storeTimeout` cannot fire. The connection runs with `busy_timeout = 0`
 * instead (a lock held elsewhere answers `SQLITE_BUSY` at once, having done nothing), and a call
 * that meets one is tried again a few ms later, until `waitMs` after it was made; then it fails with
 * that `SQLITE_BUSY`. Meanwhile the event loop is free.
 *
 * Calls made while one waits queue behind it, so the connection still applies them in the order
 * made (a read after a revocation sees it). When nothing waits — nearly always — a call runs at
 * once, synchronously inside `run`, as a direct call would. A call's body must be safe to run again
 * after `SQLITE_BUSY`: one transaction (or one statement), whose failure left nothing written.
 */
export class BusyLane {
  readonly #waitMs: number;
  readonly #queue: Waiting[] = [];
  #timer: NodeJS.Timeout | null = null;
  #idle: Array<() => void> = [];

  /** `waitMs`: how long a call may wait for a lock, by default (ms, 0: one try). */
  constructor(waitMs: number) {
    this.#waitMs = waitMs;
  }

  /** Runs `body` in its turn, trying again while it meets a lock, for up to `waitMs`. */
  run<T>(body: () => T, waitMs = this.#waitMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiting = waitingFor({ body, resolve, reject, deadline: performance.now() + waitMs });
      if (this.#queue.length > 0) {
        this.#queue.push(waiting);
        return;
      }
      if (waiting.attempt()) return;
      this.#queue.push(waiting);
      this.#schedule();
    });
  }

  /**
   * Runs `body` out of turn (it must change nothing, so order does not matter: a probe), trying
   * again while it meets a lock for up to `waitMs`; the calls waiting in the lane do not delay it.
   */
  probe<T>(body: () => T, waitMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const waiting = waitingFor({ body, resolve, reject, deadline: performance.now() + waitMs });
      const next = () => {
        if (waiting.attempt()) return;
        waiting.tries++;
        setTimeout(next, delayOf(waiting));
      };
      next();
    });
  }

  /** Resolves once no call waits (at once when none does): before closing the connection. */
  idle(): Promise<void> {
    if (this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #schedule(): void {
    const head = this.#queue[0];
    if (this.#timer !== null || head === undefined) return;
    this.#timer = setTimeout(() => this.#drain(), delayOf(head));
  }

  /** Tries the first waiting call again; once it settles, runs the next ones until one meets a lock. */
  #drain(): void {
    this.#timer = null;
    for (let head = this.#queue[0]; head !== undefined; head = this.#queue[0]) {
      if (!head.attempt()) {
        head.tries++;
        this.#schedule();
        return;
      }
      this.#queue.shift();
    }
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}
