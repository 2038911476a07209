// `@vigil/client`: the session client. The optional pieces are subpath exports of their own, so an app
// ships only what it imports: `@vigil/client/push`, `/warning`, `/frame`, `/token` and `/fetch`.
export type { ActivityTargets } from './activity.js';
export { parseRetryAfter, type RetryOptions, retryDelay } from './backoff.js';
export type { Off } from './events.js';
export type { TabMessage, TabsOptions } from './tabs.js';
export type {
  HeartbeatBody,
  Outcome,
  PushContext,
  PushEvent,
  PushUpgrade,
  Transport,
  TransportOptions,
} from './transport.js';
export type { Clock, SessionStatus, Timers, VigilEvents, VigilState, VigilStatus } from './types.js';
export { createVigil, type Vigil, type VigilOptions } from './vigil.js';
