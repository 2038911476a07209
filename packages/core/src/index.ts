export { type BoundedStoreOptions, boundedStore } from './bounded-store.js';
export { type Clock, ManualClock, systemClock } from './clock.js';
export {
  type ConfigInput,
  type CookieConfig,
  DEFAULT_WEBHOOK_EVENTS,
  EVENT_TYPES,
  type RelayConfig,
  resolveConfig,
  type SameSite,
  type VigilConfig,
  type WebhookConfig,
} from './config.js';
export { DeadlineIndex } from './deadline-index.js';
export { type Duration, formatDuration, parseDuration } from './duration.js';
export {
  END_REASONS,
  type EndReason,
  ERROR_CODES,
  ERROR_TABLE,
  type ErrorCode,
  type ErrorDetail,
  isVigilError,
  RateLimitedError,
  SessionEndedError,
  StoreUnavailableError,
  ValidationError,
  VigilError,
} from './errors.js';
export { type BridgeOptions, bridgeEvents, isRemoteEvent, type RemoteEventChannel } from './event-bridge.js';
export {
  endEvent,
  type SessionEvent,
  type SessionEventListener,
  SessionEvents,
  type SessionEventType,
} from './events.js';
export {
  applyTouch,
  createSession,
  endSession,
  isInWarning,
  type Liveness,
  liveness,
  type NewSession,
  type Signal,
  settle,
  type TouchDecision,
  type TouchParams,
  touchParams,
} from './lifecycle.js';
export { MemoryStore } from './memory-store.js';
export { compilePassivePaths, type PathMatcher, requestPath } from './passive-paths.js';
export {
  DEFAULT_POLICY_INPUT,
  type Policy,
  type PolicyInput,
  resolvePolicies,
  resolvePolicy,
} from './policy.js';
export { isPresetName, PRESETS, type Preset, type PresetLimits, type PresetName } from './presets.js';
export { type Attributes, expiresAt, type SessionRecord } from './session.js';
export { type AdminSessionView, adminView, type SessionStatus, sessionStatus } from './status.js';
export type { CreateOptions, ManualEndReason, SessionLookup, Store, TouchResult } from './store.js';
export { Sweeper, type SweeperOptions } from './sweeper.js';
export {
  looksLikeSessionToken,
  newSessionToken,
  secretsEqual,
  sessionIdFor,
  TOKEN_PREFIX,
} from './tokens.js';
