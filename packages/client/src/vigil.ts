import { type ActivityTargets, defaultActivityTargets, watchActivity } from './activity.js';
import { type RetryOptions, resolveRetry, retryDelay } from './backoff.js';
import { type Deadlines, deadlinesOf, endReasonOf } from './deadlines.js';
import { createEmitter, type Off } from './events.js';
import type { FetchActivityCounter } from './fetch-activity.js';
import { type BeatConfig, initialBeatState, markActiveSent, planHeartbeat } from './heartbeat.js';
import { joinTabs, type TabMessage, type Tabs, type TabsOptions } from './tabs.js';
import { createThrottle, type Throttle } from './throttle.js';
import {
  createTransport,
  type HeartbeatBody,
  isSessionStatus,
  type Outcome,
  type PushEvent,
  type PushUpgrade,
  type Transport,
  type TransportOptions,
} from './transport.js';
import type { Clock, SessionStatus, Timers, VigilEvents, VigilStatus } from './types.js';

export interface VigilOptions {
  /** Where the Vigil API is, e.g. `https://vigil.example.com` (the SDK adds `/v1/...`). */
  baseUrl: string;
  /** Token mode: the session token, sent as `Authorization: Bearer`; a function is asked each time. */
  token?: string | (() => string | null | undefined);
  /** Cookie mode: `'include'` when the API is on another origin than the page. */
  credentials?: RequestCredentials;
  /** Sleeping heartbeats for an idle user; 0 = none. Default: twice the server's heartbeat interval. */
  sleepingHeartbeatIntervalMs?: number;
  /** Pass-through parameters sent with every heartbeat (DESIGN: `params`). */
  params?: Record<string, unknown> | (() => Record<string, unknown> | undefined);
  /** Backoff for 5xx, 429 and network errors. */
  retry?: RetryOptions;
  /**
   * Count the app's own `fetch` calls as activity, and check the session when one answers `401`: pass
   * `countFetchAsActivity` from `@vigil/client/fetch` (a separate import, so apps that leave `fetch`
   * alone do not ship it).
   */
  countFetchAsActivity?: FetchActivityCounter;
  /** A request that has not answered after this long counts as a network error. Default 10000. */
  requestTimeoutMs?: number;
  /** Act as one with the other tabs of this origin (default), or alone (`false`). */
  tabs?: false | Partial<Pick<TabsOptions, 'name' | 'locks' | 'BroadcastChannel'>>;
  /**
   * Replaces how the SDK talks to Vigil (token mode's refresh transport, a test double): called with
   * the options the default transport would get.
   */
  transport?: (defaults: TransportOptions) => Transport;
  /**
   * Push from Vigil: pass `pushChannels()` from `@vigil/client/push` and the leader tab holds a
   * WebSocket (else an SSE stream) on which the server's `warning`, `extended` and `ended` arrive at
   * once. Without it the SDK hears from Vigil only in answer to its own requests: heartbeats and
   * session reads, at least every sleeping-heartbeat interval. Ignored with a custom `transport`,
   * whose own `listen()` (if any) is used.
   */
  push?: PushUpgrade;
  /** Where to watch for activity; default the page's `window` and `document`, null for nowhere. */
  activityTargets?: ActivityTargets | null;
  /** A timer firing this much later than asked means the machine slept: the session is re-checked. */
  driftThresholdMs?: number;
  clock?: Clock;
  timers?: Timers;
  fetch?: typeof fetch;
  random?: () => number;
}

export interface Vigil {
  /** Attaches listeners, joins the other tabs and reads the session; resolves once that read is done. */
  start(): Promise<void>;
  /** Detaches everything; the session itself is left alone. */
  stop(): void;
  /** An explicit "I am here": an active heartbeat now, whatever the interval. */
  extend(): Promise<void>;
  /**
   * Ends the session in every tab at once, and on the server (`DELETE /v1/session`, retried like a
   * heartbeat). Resolves `true` once the server holds no session any more, `false` when it could not
   * be told: the server then ends the session at its own deadline.
   */
  logout(): Promise<boolean>;
  /** Reports activity that listeners cannot see (a playing video, the frame bridge). */
  reportActivity(): void;
  on<K extends keyof VigilEvents>(event: K, listener: (payload: VigilEvents[K]) => void): Off;
  /** The current snapshot; the same object until something changes. */
  status(): VigilStatus;
}

/**
 * A request to Vigil: a heartbeat (its body), or a read of the session (`GET /v1/session`) named by
 * why it is made — `check` (start, return, wake), `probe` (while heartbeats are disabled), `warn` and
 * `end` (before warning or ending: the server may know better).
 */
type Op = HeartbeatBody | 'check' | 'probe' | 'warn' | 'end';

/** A follower waits this much longer than the leader before acting on a deadline itself. */
const FOLLOWER_GRACE_MS = 1000;
/** How often a follower passes activity on to the leader, at most. */
const FORWARD_MS = 1000;
/** A follower's extend that no leader answered within this long is sent by the follower. */
const EXTEND_FALLBACK_MS = 2000;
const WATCHDOG_MS = 15_000;
const VISIBLE_GAP_MS = 1000;

/**
 * Creates the client; nothing happens until `start()`. The schedule lives in `replan()`: one timer
 * for the earliest of the end, the warning, a retry and the next heartbeat — recomputed from
 * timestamps after every change, so no event can leave a stale timer behind.
 */
/* @__NO_SIDE_EFFECTS__ */
export function createVigil(options: VigilOptions): Vigil {
  // `Date` and the page itself are the default clock and timers.
  const clock: Clock = options.clock ?? Date;
  const timers: Timers = options.timers ?? globalThis;
  const random = options.random ?? Math.random;
  const retry = resolveRetry(options.retry);
  const driftThresholdMs = options.driftThresholdMs ?? 30_000;
  const emitter = createEmitter<VigilEvents>();

  let phase: 'stopped' | 'running' | 'ended' = 'stopped';
  let session: SessionStatus | null = null;
  let deadlines: Deadlines | null = null;
  let endedReason: string | null = null;
  let disabled = false;
  let leader = false;
  let warning = false;
  let warningReported = false;
  let beat = initialBeatState();
  let lastContactAt = -Infinity;
  let inFlight = 0;
  let armed = false;
  let pendingRetry: { op: Op; attempt: number; at: number } | null = null;
  let peerStatusSeen = false;
  let generation = 0;
  let timer: unknown;
  let watchdog: unknown;
  let lastTick = 0;
  let transport: Transport | null = null;
  let unlisten: (() => void) | undefined;
  let tabs: Tabs | null = null;
  let forward: Throttle | null = null;
  let detach: Array<() => void> = [];
  let targets: ActivityTargets | null = null;
  let snapshot = makeSnapshot();

  function makeSnapshot(): VigilStatus {
    const state =
      phase === 'running' ? (session === null ? 'starting' : warning ? 'warning' : 'active') : phase;
    return {
      state,
      session,
      expiresAt: deadlines?.endsAt ?? null,
      warnAt: deadlines?.warnAt ?? null,
      heartbeatsDisabled: disabled,
      leader,
      endedReason,
    };
  }

  function changed(): void {
    snapshot = makeSnapshot();
    emitter.emit('status', snapshot);
  }

  function beatConfig(status: SessionStatus): BeatConfig {
    return {
      heartbeatIntervalMs: status.heartbeatIntervalMs,
      sleepingIntervalMs: options.sleepingHeartbeatIntervalMs ?? 2 * status.heartbeatIntervalMs,
    };
  }

  /** Activity here or in another tab: a timestamp, and a leader waiting for it checks in at once. */
  function noteActivity(): void {
    beat.lastActivityAt = clock.now();
    if (leader && armed) {
      armed = false;
      recheck(disabled ? retry.maxMs : (session?.heartbeatIntervalMs ?? 0));
    }
  }

  // The hot path: a timestamp, and a flag test.
  function onActivity(): void {
    noteActivity();
    if (!leader) forward?.notify();
  }

  /**
   * Activity the heartbeat interval held back: reported instead of a warning, never warned about.
   * Once a warning shows, only an explicit choice counts (the dialog taking focus fires a `focus`
   * event: that is the page, not the user).
   */
  function hasUnsentActivity(): boolean {
    return !disabled && !warning && beat.lastActivityAt > beat.activitySentUpTo;
  }

  function onVisible(): void {
    onActivity();
    recheck(VISIBLE_GAP_MS);
  }

  function replan(): void {
    timers.clearTimeout(timer);
    timer = undefined;
    armed = false;
    if (phase !== 'running') return;
    const now = clock.now();
    let at = Infinity;
    let next: (() => void) | null = null;
    const consider = (when: number, action: () => void): void => {
      if (when < at) {
        at = when;
        next = action;
      }
    };
    // While a request is out, its answer decides what comes next.
    if (inFlight > 0) return;
    if (deadlines) {
      const grace = leader ? 0 : FOLLOWER_GRACE_MS;
      consider(deadlines.endsAt + grace, () => void perform('end', 0));
      if (!warning && deadlines.warnAt < deadlines.endsAt) consider(deadlines.warnAt + grace, onWarnTime);
    }
    if (pendingRetry) {
      const { op, attempt } = pendingRetry;
      consider(pendingRetry.at, () => {
        pendingRetry = null;
        // A retried active heartbeat reports the activity up to now: none is left to send right after.
        if (typeof op === 'object' && op.state === 'active') markActiveSent(beat, clock.now());
        void perform(op, attempt);
      });
    } else if (leader && session) {
      const plan = disabled ? null : planHeartbeat(beat, beatConfig(session));
      if (plan?.kind === 'active') {
        // During a warning only an explicit choice counts: moving the mouse towards "Sign out" must
        // not extend the session and close the dialog under the pointer.
        if (!warning) consider(plan.at, () => void sendBeat('active'));
      } else {
        armed = !warning;
        if (plan) consider(plan.at, () => void sendBeat('sleeping'));
      }
    }
    const action = next as (() => void) | null;
    if (action) timer = timers.setTimeout(action, Math.max(0, at - now));
  }

  /** Checks the session now if the last contact is older than `minGapMs` (return, wake, visibility). */
  function recheck(minGapMs: number): void {
    replan();
    if (phase !== 'running' || !leader || !session || inFlight > 0 || pendingRetry) return;
    const now = clock.now();
    const plan = disabled ? null : planHeartbeat(beat, beatConfig(session));
    if (plan?.kind === 'active' && plan.at <= now && !warning) void sendBeat('active');
    else if (now - lastContactAt >= minGapMs) void perform(disabled ? 'probe' : 'check', 0);
  }

  /** Sends a heartbeat now: an active one covers all the activity seen so far. */
  function sendBeat(state: 'active' | 'sleeping', warningOutcome?: 'extended'): Promise<void> {
    const body: HeartbeatBody = { state };
    const params = typeof options.params === 'function' ? options.params() : options.params;
    if (params) body.params = params;
    if (warningOutcome) body.warning = warningOutcome;
    const now = clock.now();
    if (state === 'active') markActiveSent(beat, now);
    else beat.lastSentAt = now;
    return perform(body, 0);
  }

  function doExtend(reportWarning: boolean): Promise<void> {
    beat.lastActivityAt = clock.now();
    pendingRetry = null;
    if (reportWarning) warningReported = true;
    return sendBeat('active', reportWarning ? 'extended' : undefined);
  }

  async function perform(op: Op, attempt: number): Promise<void> {
    if (!transport) return;
    const run = generation;
    inFlight++;
    replan();
    lastContactAt = clock.now();
    const outcome = typeof op === 'string' ? await transport.read() : await transport.heartbeat(op);
    if (run !== generation) return;
    inFlight--;
    if (outcome.kind === 'ok') {
      pendingRetry = null;
      setDisabled(false, 0, true);
      applyStatus(outcome.status, true);
    } else if (outcome.kind === 'ended') {
      end(outcome.reason, true);
    } else {
      failed(op, attempt, outcome);
    }
  }

  function failed(op: Op, attempt: number, outcome: Outcome): void {
    if (op === 'end' && deadlines) {
      // The server cannot be asked: the last deadline it gave is the one that holds.
      end(endReasonOf(deadlines), true);
      return;
    }
    if (op === 'warn' && deadlines) {
      enterWarning(deadlines.endsAt - clock.now());
    } else if (op === 'probe') {
      // One look while disabled; the deadline is still enforced.
    } else if (outcome.kind === 'retry' && attempt < retry.retries) {
      pendingRetry = {
        op,
        attempt: attempt + 1,
        at: clock.now() + retryDelay(attempt, retry, outcome.retryAfterMs, random),
      };
    } else {
      setDisabled(true, attempt + 1, true);
    }
    replan();
  }

  function setDisabled(value: boolean, attempts: number, relay: boolean): void {
    if (disabled === value) return;
    disabled = value;
    if (relay) tabs?.post({ t: 'disabled', v: value });
    if (value) emitter.emit('heartbeatsDisabled', { attempts });
    changed();
  }

  function applyStatus(status: SessionStatus, relay: boolean): void {
    if (phase !== 'running') return;
    const now = clock.now();
    session = status;
    deadlines = deadlinesOf(status, now);
    if (relay) tabs?.post({ t: 'status', s: status });
    const msLeft = deadlines.endsAt - now;
    if (status.warnInMs === 0 && msLeft > 0) {
      enterWarning(msLeft);
    } else if (warning) {
      warning = false;
      changed();
      emitter.emit('extended', { msLeft });
    } else {
      changed();
    }
    replan();
  }

  function enterWarning(msLeft: number): void {
    if (!warning) {
      warning = true;
      warningReported = false;
    }
    changed();
    emitter.emit('warning', { msLeft: Math.max(0, msLeft) });
    replan();
  }

  function onWarnTime(): void {
    if (!deadlines) return;
    if (!leader) enterWarning(deadlines.endsAt - clock.now());
    // An active user is never warned.
    else if (hasUnsentActivity()) void sendBeat('active');
    else void perform('warn', 0);
  }

  function onTabMessage(message: TabMessage): void {
    if (phase !== 'running') return;
    if (message.t === 'activity') {
      noteActivity();
    } else if (message.t === 'status') {
      peerStatusSeen = true;
      applyStatus(message.s, false);
    } else if (message.t === 'ended') {
      end(message.reason, false);
    } else if (message.t === 'extend') {
      if (leader) void doExtend(!warningReported && (warning || message.w));
    } else if (message.t === 'disabled') {
      setDisabled(message.v, 0, false);
    }
  }

  /** Only the leader holds a push channel: the other tabs hear everything from it. */
  function listen(value: boolean): void {
    unlisten?.();
    unlisten = value ? transport?.listen?.(onPush) : undefined;
  }

  function onPush(event: PushEvent): void {
    if (event.kind === 'ended') end(event.reason, true);
    // While a request is out its answer, at least as new as this, is on its way.
    else if (!inFlight && isSessionStatus(event.status)) {
      lastContactAt = clock.now();
      // As at the local warning time: an active user is never warned.
      if (event.kind === 'warning' && hasUnsentActivity()) void sendBeat('active');
      else applyStatus(event.status, true);
    }
  }

  function onLeadership(value: boolean): void {
    leader = value;
    listen(value);
    // Taking over from another tab, which may have just sent an active heartbeat: wait an interval.
    if (value && peerStatusSeen) beat.lastActiveSentAt = Math.max(beat.lastActiveSentAt, clock.now());
    changed();
    replan();
  }

  function tick(): void {
    const now = clock.now();
    const late = now - lastTick - WATCHDOG_MS;
    lastTick = now;
    watchdog = timers.setTimeout(tick, WATCHDOG_MS);
    // Hidden tabs' timers are throttled by the browser: lateness there proves nothing.
    const hidden = targets?.document.visibilityState === 'hidden';
    if (late > driftThresholdMs && !hidden) recheck(0);
    else replan();
  }

  function teardown(): void {
    generation++;
    timers.clearTimeout(timer);
    timers.clearTimeout(watchdog);
    for (const off of detach) off();
    detach = [];
    forward?.cancel();
    listen(false);
    tabs?.close();
    tabs = null;
    leader = false;
    armed = false;
    inFlight = 0;
    pendingRetry = null;
  }

  function end(reason: string, relay: boolean): void {
    if (phase !== 'running') return;
    if (relay) tabs?.post({ t: 'ended', reason });
    teardown();
    phase = 'ended';
    endedReason = reason;
    warning = false;
    changed();
    emitter.emit('ended', { reason });
  }

  function makeTransport(): Transport {
    const transportOptions: TransportOptions = {
      baseUrl: options.baseUrl,
      token: options.token,
      credentials: options.credentials,
      // Taken before `countFetchAsActivity` wraps `fetch`: the SDK's own calls are not activity.
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      timers,
      timeoutMs: options.requestTimeoutMs ?? 10_000,
    };
    if (options.transport) return options.transport(transportOptions);
    const http = createTransport(transportOptions);
    return options.push ? options.push(http, { ...transportOptions, retry, random }) : http;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      timers.setTimeout(resolve, ms);
    });
  }

  return {
    async start() {
      if (phase === 'running') return;
      generation++;
      phase = 'running';
      session = null;
      deadlines = null;
      endedReason = null;
      disabled = false;
      warning = false;
      warningReported = false;
      peerStatusSeen = false;
      beat = initialBeatState();
      const now = clock.now();
      // The start-up read counts as contact: sleeping heartbeats are due an interval from now.
      beat.lastSentAt = now;
      lastContactAt = now;
      lastTick = now;
      transport = makeTransport();
      targets = options.activityTargets === undefined ? defaultActivityTargets() : options.activityTargets;
      if (targets) detach.push(watchActivity(targets, onActivity, onVisible));
      const fetchCounter = options.countFetchAsActivity?.(onActivity, (reason) =>
        reason ? end(reason, true) : recheck(0),
      );
      if (fetchCounter) detach.push(fetchCounter);
      forward = createThrottle(() => tabs?.post({ t: 'activity' }), FORWARD_MS, timers);
      if (options.tabs === false) {
        leader = true;
        listen(true);
      } else {
        tabs = joinTabs({
          name: `vigil:${options.baseUrl}`,
          ...options.tabs,
          onMessage: onTabMessage,
          onLeadership,
        });
      }
      watchdog = timers.setTimeout(tick, WATCHDOG_MS);
      changed();
      await perform('check', 0);
    },

    stop() {
      if (phase !== 'running') return;
      teardown();
      phase = 'stopped';
      warning = false;
      changed();
    },

    async extend() {
      if (phase !== 'running') return;
      const report = warning && !warningReported;
      if (leader || !tabs) return doExtend(report);
      // Heartbeats are the leader's job; if no leader answers (its tab frozen), do it here.
      if (report) warningReported = true;
      beat.lastActivityAt = clock.now();
      tabs.post({ t: 'extend', w: report });
      const run = generation;
      const before = session;
      await sleep(EXTEND_FALLBACK_MS);
      if (run === generation && session === before) await doExtend(report);
    },

    async logout() {
      const body = phase === 'running' && warning ? { warning: 'signed_out' as const } : undefined;
      const client = transport ?? makeTransport();
      end('logout', true);
      for (let attempt = 0; ; attempt++) {
        const outcome = await client.logout(body);
        // `ended`: a 401, the session had ended already.
        if (outcome.kind !== 'retry' || attempt >= retry.retries)
          return outcome.kind !== 'retry' && outcome.kind !== 'failed';
        await sleep(retryDelay(attempt, retry, outcome.retryAfterMs, random));
      }
    },

    reportActivity() {
      if (phase === 'running') onActivity();
    },

    on: emitter.on,

    status: () => snapshot,
  };
}
