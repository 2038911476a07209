import type { Timers } from './types.js';

export interface Throttle {
  /** Cheap enough for the hot path: sends at once, or remembers to send when the pause is over. */
  notify(): void;
  cancel(): void;
}

/**
 * Calls `send` on the first `notify()`, then at most once per `intervalMs` while notifications keep
 * coming (one trailing call covers everything that happened during a pause). Used to pass activity
 * on to another tab or to the host page without a message per pointer move.
 */
export function createThrottle(send: () => void, intervalMs: number, timers: Timers): Throttle {
  let cooling = false;
  let pending = false;
  let handle: unknown;
  const cool = (): void => {
    if (pending) {
      pending = false;
      send();
      handle = timers.setTimeout(cool, intervalMs);
    } else {
      cooling = false;
    }
  };
  return {
    notify() {
      if (cooling) {
        pending = true;
        return;
      }
      cooling = true;
      send();
      handle = timers.setTimeout(cool, intervalMs);
    },
    cancel() {
      timers.clearTimeout(handle);
      cooling = false;
      pending = false;
    },
  };
}
