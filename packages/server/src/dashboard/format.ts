/** "45s", "4m 05s", "2h 03m": short, and precise enough for a deadline. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  return `${hours}h ${String(minutes % 60).padStart(2, '0')}m`;
}

/** A time of day in the viewer's time zone, to the second. */
export function formatTime(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour12: false });
}

/** Ids are long hashes: the start is enough to tell them apart on screen (the full one is in a title). */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

/**
 * The server's clock as seen from here: deadlines are the server's times, and this page's clock may
 * be off by minutes, so "time left" is counted from the server's time at its last answer.
 */
export class ServerClock {
  #offsetMs = 0;

  /** Called with a `serverTime` the server has just sent. */
  sync(serverTime: string): void {
    const server = Date.parse(serverTime);
    if (Number.isFinite(server)) this.#offsetMs = server - Date.now();
  }

  now(): number {
    return Date.now() + this.#offsetMs;
  }
}
