import { type ActivityTargets, defaultActivityTargets, watchActivity } from './activity.js';
import { createThrottle } from './throttle.js';
import type { Clock, Timers } from './types.js';

/** The one message of the bridge: small, fixed, and carrying nothing but "someone is working". */
export interface FrameActivityMessage {
  vigil: 'activity';
  v: 1;
}

export interface AcceptFrameActivityOptions {
  /** Origins whose frames may report activity, exactly as their `location.origin`. */
  origins: readonly string[];
  /** Accept at most one message per origin per this many ms; the rest are dropped. Default 500. */
  minIntervalMs?: number;
  /** Where messages arrive; default the page's `window`. */
  window?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  clock?: Clock;
}

/**
 * Host side: counts activity reported by embedded frames of the allowed origins (any other origin,
 * any other message shape, and anything over the rate limit is ignored). Returns the off-switch.
 */
export function acceptFrameActivity(
  vigil: { reportActivity(): void },
  options: AcceptFrameActivityOptions,
): () => void {
  const target = options.window ?? globalThis.window;
  const clock: Clock = options.clock ?? Date;
  const minIntervalMs = options.minIntervalMs ?? 500;
  // One entry per allowed origin at most: the map cannot grow with what strangers send.
  const lastAccepted = new Map<string, number>();
  const allowed = new Set(options.origins.map((origin) => origin.replace(/\/+$/, '')));
  const onMessage = (event: Event): void => {
    const { origin, data } = event as MessageEvent;
    if (!allowed.has(origin) || !isActivityMessage(data)) return;
    const now = clock.now();
    if (now - (lastAccepted.get(origin) ?? -Infinity) < minIntervalMs) return;
    lastAccepted.set(origin, now);
    vigil.reportActivity();
  };
  target.addEventListener('message', onMessage);
  return () => target.removeEventListener('message', onMessage);
}

function isActivityMessage(data: unknown): data is FrameActivityMessage {
  if (typeof data !== 'object' || data === null) return false;
  const message = data as Partial<FrameActivityMessage>;
  return message.vigil === 'activity' && message.v === 1 && Object.keys(data).length === 2;
}

export interface ReportActivityToHostOptions {
  /** The host page's origin: messages go to it and nowhere else. */
  hostOrigin: string;
  /** At most one message per this many ms while the user works. Default 1000. */
  intervalMs?: number;
  /** Default `window.parent`. */
  host?: { postMessage(message: unknown, targetOrigin: string): void };
  activityTargets?: ActivityTargets;
  timers?: Timers;
}

/** Frame side: reports this frame's user activity to the host page. Returns the off-switch. */
export function reportActivityToHost(options: ReportActivityToHostOptions): () => void {
  const targets = options.activityTargets ?? defaultActivityTargets();
  const host = options.host ?? globalThis.window?.parent;
  if (!targets || !host) return () => {};
  const timers: Timers = options.timers ?? globalThis;
  const message: FrameActivityMessage = { vigil: 'activity', v: 1 };
  const throttle = createThrottle(
    () => host.postMessage(message, options.hostOrigin),
    options.intervalMs ?? 1000,
    timers,
  );
  const stop = watchActivity(targets, throttle.notify);
  return () => {
    stop();
    throttle.cancel();
  };
}
