export type { ActivityTargets } from './activity.js';
export { parseRetryAfter, type RetryOptions, retryDelay } from './backoff.js';
export type { Off } from './events.js';
export {
  type AcceptFrameActivityOptions,
  acceptFrameActivity,
  type FrameActivityMessage,
  type ReportActivityToHostOptions,
  reportActivityToHost,
} from './frame-bridge.js';
export type { TabMessage, TabsOptions } from './tabs.js';
export {
  createTokenMode,
  type TokenLocks,
  type TokenMode,
  type TokenModeOptions,
  TokenRefreshError,
} from './token-mode.js';
export { defaultRefreshAfter } from './token-timing.js';
export type { HeartbeatBody, Outcome, PushEvent, Transport, TransportOptions } from './transport.js';
export { type PushOptions, type TransportKind, withPush } from './transport-choice.js';
export type { Clock, SessionStatus, Timers, VigilEvents, VigilState, VigilStatus } from './types.js';
export { createVigil, type Vigil, type VigilOptions } from './vigil.js';
export { defineVigilWarning, type VigilWarningElement } from './warning-element.js';
export { endedMessage } from './warning-text.js';
