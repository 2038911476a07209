export { SqliteStore, type SqliteStoreOptions, type SqliteStoreSettings } from './sqlite-store.js';
