export { type AppOptions, buildApp, type VigilContext } from './app.js';
export { type ErrorBody, toErrorReply } from './error-handler.js';
export { LIMITS } from './limits.js';
export type { HeartbeatOutcome, WarningOutcome } from './metrics.js';
export { adminSessionSchema, errorSchema, statusSchema } from './schemas.js';
