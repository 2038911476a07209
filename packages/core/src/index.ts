export {
  AUDIT_ACTORS,
  AUDIT_FIELD_MAX_LENGTH,
  AUDIT_MAX_LIMIT,
  AUDIT_MAX_TIME,
  type AuditActor,
  type AuditEntry,
  type AuditLog,
  type AuditPage,
  type AuditPosition,
  type AuditQuery,
  actorFor,
  auditEntryOf,
  auditQueryStart,
  checkAuditEntry,
  checkAuditLimit,
  compareAuditPositions,
  compareCodePoints,
  decodeAuditCursor,
  encodeAuditCursor,
  invalidCursorError,
  pageOf,
} from './audit-log.js';
export { type BoundedStoreOptions, boundedCall, boundedStore } from './bounded-store.js';
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
export { MemoryAuditLog } from './memory-audit-log.js';
export { MemoryStore } from './memory-store.js';
export { MemoryTokenStore } from './memory-token-store.js';
export { compilePassivePaths, type PathMatcher, requestPath } from './passive-paths.js';
export {
  DEFAULT_POLICY_INPUT,
  type Policy,
  type PolicyInput,
  resolvePolicies,
  resolvePolicy,
} from './policy.js';
export { isPresetName, PRESETS, type Preset, type PresetLimits, type PresetName } from './presets.js';
export {
  decideRotation,
  formatRefreshToken,
  type NewRefreshFamily,
  newRefreshToken,
  newRotationSalt,
  nextRefreshToken,
  parseRefreshToken,
  REFRESH_TOKEN_PREFIX,
  type RefreshFamily,
  type RefreshTokenParts,
  type RefreshTokenStore,
  type RotateOutcome,
  type RotateRequest,
  refreshFamilyId,
  refreshTokenHash,
} from './refresh-tokens.js';
export { type Attributes, expiresAt, type SessionRecord } from './session.js';
export { checkSigningKey, type SigningKeyStore, type StoredSigningKey } from './signing-keys.js';
export { type AdminSessionView, adminView, type SessionStatus, sessionStatus } from './status.js';
export type { CreateOptions, ManualEndReason, SessionLookup, Store, TouchResult } from './store.js';
export { Sweeper, type SweeperOptions } from './sweeper.js';
export { DEFAULT_TOKEN_CONFIG, resolveTokenConfig, type TokenConfig } from './token-config.js';
export {
  boundedTokenStore,
  type TokenStore,
  type TokenStoreProvider,
  tokenStoreOf,
} from './token-store.js';
export {
  looksLikeSessionToken,
  newSessionToken,
  secretsEqual,
  sessionIdFor,
  TOKEN_PREFIX,
} from './tokens.js';
export { TurnBatch } from './turn-batch.js';
