import { injected } from './injected.js';
import type { SessionStatus } from './types.js';

/** What tabs of one origin tell each other. Short keys: these cross the channel often. */
export type TabMessage =
  | { t: 'activity' }
  | { t: 'status'; s: SessionStatus }
  | { t: 'ended'; reason: string }
  /** A follower asks the leader to extend; `w`: a warning was showing (report it once). */
  | { t: 'extend'; w: boolean }
  | { t: 'disabled'; v: boolean };

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

export interface TabsOptions {
  /** The channel and lock name; tabs with the same name act as one. */
  name: string;
  onMessage(message: TabMessage): void;
  onLeadership(leader: boolean): void;
  /** Web Locks; default `navigator.locks`; null: every tab leads (as where Web Locks are missing). */
  locks?: LockManagerLike | null;
  /** Default the global `BroadcastChannel`; null: this tab acts alone. */
  BroadcastChannel?: typeof BroadcastChannel | null;
}

export interface Tabs {
  post(message: TabMessage): void;
  close(): void;
}

/**
 * Joins the tabs of this origin. The leader is whoever holds a Web Lock (released by the browser when
 * its tab closes or crashes, so another waiting tab takes over at once). Without Web Locks (browsers
 * from before 2022) every tab leads: each sends its own heartbeats, which costs requests but no
 * correctness, since the tabs still share statuses, ends and extends over the channel and each asks
 * the server before it warns. An election over the channel instead cost the main export 0.2 kB of
 * its 4 kB (min+gzip) for those few browsers. Without BroadcastChannel each tab is on its own.
 */
export function joinTabs(options: TabsOptions): Tabs {
  const Channel = injected(options.BroadcastChannel, globalThis.BroadcastChannel);
  const locks = injected(
    options.locks,
    (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks,
  );
  const channel = Channel ? new Channel(options.name) : null;
  let closed = false;
  let leader = false;
  const setLeader = (value: boolean): void => {
    if (value === leader || closed) return;
    leader = value;
    options.onLeadership(value);
  };

  let releaseLock: (() => void) | undefined;
  const abort = new AbortController();
  if (channel && locks) {
    locks
      .request(`${options.name}:leader`, { signal: abort.signal }, () => {
        if (closed) return Promise.resolve();
        setLeader(true);
        return new Promise<void>((resolve) => {
          releaseLock = resolve;
        });
      })
      .catch(() => {
        // Aborted because this tab left before it got the lock.
      });
  } else {
    setLeader(true);
  }

  if (channel) {
    channel.onmessage = (event: MessageEvent) => {
      const message = event.data as TabMessage | null;
      // Anything else on the channel (another version, another library) is not for us.
      if (!closed && typeof message?.t === 'string') options.onMessage(message);
    };
  }

  return {
    post(message) {
      if (!closed) channel?.postMessage(message);
    },
    close() {
      if (closed) return;
      closed = true;
      leader = false;
      abort.abort();
      releaseLock?.();
      channel?.close();
    },
  };
}
