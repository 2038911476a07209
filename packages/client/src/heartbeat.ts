/** What the heartbeat schedule depends on; moments on the client's clock, -Infinity for "never". */
export interface BeatState {
  /** The last user activity seen in any tab or frame. */
  lastActivityAt: number;
  /** The `lastActivityAt` that the last active heartbeat reported. */
  activitySentUpTo: number;
  /** When the last active heartbeat was sent. */
  lastActiveSentAt: number;
  /** When the last heartbeat of either kind was sent. */
  lastSentAt: number;
}

export interface BeatConfig {
  heartbeatIntervalMs: number;
  /** 0 = no sleeping heartbeats. */
  sleepingIntervalMs: number;
}

export type BeatPlan = { kind: 'active' | 'sleeping'; at: number } | null;

export function initialBeatState(): BeatState {
  return {
    lastActivityAt: -Infinity,
    activitySentUpTo: -Infinity,
    lastActiveSentAt: -Infinity,
    lastSentAt: -Infinity,
  };
}

/**
 * The next heartbeat: an active one as soon as the interval since the last active one allows, but
 * only if there was activity it has not reported yet; else a sleeping one, rarer; null when the
 * schedule waits for activity. `at` may be in the past, meaning "now".
 */
export function planHeartbeat(state: BeatState, config: BeatConfig): BeatPlan {
  if (state.lastActivityAt > state.activitySentUpTo) {
    return { kind: 'active', at: state.lastActiveSentAt + config.heartbeatIntervalMs };
  }
  if (config.sleepingIntervalMs > 0) {
    return { kind: 'sleeping', at: state.lastSentAt + config.sleepingIntervalMs };
  }
  return null;
}

/** Records that an active heartbeat goes out now, covering all activity seen so far. */
export function markActiveSent(state: BeatState, now: number): void {
  state.activitySentUpTo = state.lastActivityAt;
  state.lastActiveSentAt = now;
  state.lastSentAt = now;
}
