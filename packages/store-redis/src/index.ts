export { RedisAuditLog, type RedisAuditLogOptions } from './audit-log.js';
export { boundedRedisOptions, type RedisClient } from './connection.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export type { RemoteEventListener } from './remote-events.js';
export { RedisTokenStore, type RedisTokenStoreOptions } from './token-store.js';
