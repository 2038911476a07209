export { type AppOptions, buildApp, type VigilContext } from './app.js';
export { clearSessionCookie, readCookie, serializeSessionCookie } from './cookies.js';
export { type ErrorBody, toErrorReply } from './error-handler.js';
export { LIMITS } from './limits.js';
export type { HeartbeatOutcome, WarningOutcome } from './metrics.js';
export type { RelayedHeartbeat, RelayRetryOptions } from './relay.js';
export { AUTHORIZE_HEADERS, subjectHeader } from './routes/authorize.js';
export { refreshCookieName } from './routes/tokens.js';
export { adminSessionSchema, errorSchema, statusSchema } from './schemas.js';
export type { SseOptions } from './sse.js';
export {
  KeyRing,
  type KeyRingOptions,
  newSigningKey,
  type PublicJwk,
  readKeysFile,
  rotateSigningKey,
  type SigningAlgorithm,
} from './token-keys.js';
export type { TokenModeOptions } from './token-mode.js';
export type { TokenPair } from './token-service.js';
export { type WebhookDeliveryOptions, webhookSignature } from './webhooks.js';
export type { WsOptions } from './ws.js';
export { WS_CLOSE } from './ws-protocol.js';
