/** What the server says about a session (DESIGN: `status`). Deadlines are relative durations. */
export interface SessionStatus {
  id: string;
  subject: string;
  policy: string;
  state: 'active' | 'warning';
  idleExpiresInMs: number;
  absoluteExpiresInMs: number;
  warnInMs: number;
  heartbeatIntervalMs: number;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
  serverTime: string;
}

/** A source of "now" in milliseconds. Only differences between two readings are ever used. */
export interface Clock {
  now(): number;
}

/** The timer functions the SDK uses, injectable so tests can drive time. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type VigilState = 'stopped' | 'starting' | 'active' | 'warning' | 'ended';

/** A snapshot of the client's view of its session; a new object each time something changes. */
export interface VigilStatus {
  state: VigilState;
  /** The last status the server sent (or another tab relayed), or null before the first. */
  session: SessionStatus | null;
  /**
   * When the session ends, on this client's own clock, computed from the server's relative
   * durations at the moment they arrived (so clock skew between client and server cannot matter).
   */
  expiresAt: number | null;
  /** When the warning period begins, on this client's clock. */
  warnAt: number | null;
  heartbeatsDisabled: boolean;
  /** Whether this tab is the one that sends the heartbeats. */
  leader: boolean;
  endedReason: string | null;
}

export interface VigilEvents {
  warning: { msLeft: number };
  extended: { msLeft: number };
  ended: { reason: string };
  heartbeatsDisabled: { attempts: number };
  status: VigilStatus;
}
