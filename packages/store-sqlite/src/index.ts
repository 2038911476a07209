export { AUDIT_SQL, SqliteAuditLog, type SqliteAuditLogOptions } from './audit-log.js';
export { SqliteStore, type SqliteStoreOptions, type SqliteStoreSettings } from './sqlite-store.js';
export { type ConnectionRunner, SqliteTokenStore, TOKEN_MIGRATIONS, TOKEN_SQL } from './token-store.js';
