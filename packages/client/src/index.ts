// `@vigil/client`: the session client. The optional pieces are subpath exports of their own, so an app
// ships only what it imports: `@vigil/client/warning`, `/frame`, `/token` and `/fetch`.
export type { ActivityTargets } from './activity.js';
export { parseRetryAfter, type RetryOptions, retryDelay } from './backoff.js';
export type { Off } from './events.js';
export type { TabMessage, TabsOptions } from './tabs.js';
export type { HeartbeatBody, Outcome, PushEvent, Transport, TransportOptions } from './transport.js';
export { type PushOptions, type TransportKind, withPush } from './transport-choice.js';
export type { Clock, SessionStatus, Timers, VigilEvents, VigilState, VigilStatus } from './types.js';
export { createVigil, type Vigil, type VigilOptions } from './vigil.js';
