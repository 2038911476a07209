export {
  AUDIT_MIGRATIONS,
  auditStatementsFor,
  PostgresAuditLog,
  type PostgresAuditLogOptions,
} from './audit-log.js';
export { boundedPoolConfig, parseSpec } from './connection.js';
export {
  type MigrateOptions,
  type MigrateResult,
  migrate,
  SCHEMA_VERSION,
  SchemaTooNewError,
} from './migrate.js';
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js';
export { NOTIFY_PAYLOAD_LIMIT, type RemoteEventListener } from './remote-events.js';
export {
  PostgresTokenStore,
  type PostgresTokenStoreOptions,
  TOKEN_MIGRATIONS,
  tokenStatementsFor,
} from './token-store.js';
