import { injected } from './injected.js';
import type { Clock, SessionStatus, Timers } from './types.js';

/** What tabs of one origin tell each other. Short keys: these cross the channel often. */
export type TabMessage =
  | { t: 'activity' }
  | { t: 'status'; s: SessionStatus }
  | { t: 'ended'; reason: string }
  /** A follower asks the leader to extend; `w`: a warning was showing (report it once). */
  | { t: 'extend'; w: boolean }
  | { t: 'disabled'; v: boolean };

/** Messages of the fallback election, not passed on. */
type ElectionMessage = { t: 'lead'; id: string } | { t: 'who' } | { t: 'bye'; id: string };

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal }, callback: () => Promise<void>): Promise<unknown>;
}

export interface TabsOptions {
  /** The channel and lock name; tabs with the same name act as one. */
  name: string;
  onMessage(message: TabMessage): void;
  onLeadership(leader: boolean): void;
  clock: Clock;
  timers: Timers;
  /** Web Locks; default `navigator.locks`; null forces the fallback election. */
  locks?: LockManagerLike | null;
  /** Default the global `BroadcastChannel`; null: this tab acts alone. */
  BroadcastChannel?: typeof BroadcastChannel | null;
  /** Fallback election: a leader unheard of for this long is replaced. Default 3000. */
  leaseMs?: number;
}

export interface Tabs {
  post(message: TabMessage): void;
  close(): void;
}

/**
 * Joins the tabs of this origin. The leader is whoever holds a Web Lock (released by the browser when
 * its tab closes or crashes, so another waiting tab takes over at once). Without Web Locks the tabs
 * elect one over the channel: the leader announces itself every lease/3, a tab that has not heard a
 * leader for a lease claims, and of two claimants the smaller id wins. Without BroadcastChannel each
 * tab is on its own and leads itself.
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

  let election: { onMessage(m: ElectionMessage): void; close(): void } | null = null;
  let releaseLock: (() => void) | undefined;
  const abort = new AbortController();
  if (!channel) {
    setLeader(true);
  } else if (locks) {
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
    election = leaseElection(channel, options, () => leader, setLeader);
  }

  if (channel) {
    channel.onmessage = (event: MessageEvent) => {
      const message = event.data as TabMessage | ElectionMessage | null;
      // Anything else on the channel (another version, another library) is not for us.
      if (closed || typeof message?.t !== 'string') return;
      if (message.t === 'lead' || message.t === 'who' || message.t === 'bye') election?.onMessage(message);
      else options.onMessage(message);
    };
  }

  return {
    post(message) {
      if (!closed) channel?.postMessage(message);
    },
    close() {
      if (closed) return;
      election?.close();
      closed = true;
      leader = false;
      abort.abort();
      releaseLock?.();
      channel?.close();
    },
  };
}

function leaseElection(
  channel: BroadcastChannel,
  options: TabsOptions,
  isLeader: () => boolean,
  setLeader: (leader: boolean) => void,
): { onMessage(m: ElectionMessage): void; close(): void } {
  const leaseMs = options.leaseMs ?? 3000;
  const id = `${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const { clock, timers } = options;
  // Give a sitting leader a moment to answer "who" before claiming.
  let leaderSeenAt = clock.now() - leaseMs + leaseMs / 6;
  let handle: unknown;
  const announce = (): void => channel.postMessage({ t: 'lead', id } satisfies ElectionMessage);
  const claim = (): void => {
    setLeader(true);
    announce();
  };
  const tick = (): void => {
    if (isLeader()) announce();
    else if (clock.now() - leaderSeenAt >= leaseMs) claim();
    handle = timers.setTimeout(tick, leaseMs / 3);
  };
  channel.postMessage({ t: 'who' } satisfies ElectionMessage);
  handle = timers.setTimeout(tick, leaseMs / 6);
  return {
    onMessage(message) {
      if (message.t === 'who') {
        if (isLeader()) announce();
      } else if (message.t === 'bye') {
        if (!isLeader()) claim();
      } else if (isLeader() && message.id > id) {
        announce();
      } else {
        leaderSeenAt = clock.now();
        setLeader(false);
      }
    },
    close() {
      timers.clearTimeout(handle);
      if (isLeader()) channel.postMessage({ t: 'bye', id } satisfies ElectionMessage);
    },
  };
}
