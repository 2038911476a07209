import { type BoundedStoreOptions, boundedCall } from './bounded-store.js';
import type { RefreshTokenStore } from './refresh-tokens.js';
import type { SigningKeyStore } from './signing-keys.js';

/** What token mode keeps: refresh-token families and signing keys, durable and shared by every node. */
export interface TokenStore extends RefreshTokenStore, SigningKeyStore {}

/**
 * A session store that can keep token mode's state too offers it as `tokenStore()` (core's Store
 * contract stays as it is): the same database, connection or client, and for Redis the session's
 * hash tag. The server serves token mode only for a store that offers it.
 */
export interface TokenStoreProvider {
  tokenStore(): TokenStore;
}

/** The token store a session store offers, or null when it offers none. */
export function tokenStoreOf(store: object): TokenStore | null {
  const provider = store as Partial<TokenStoreProvider>;
  return typeof provider.tokenStore === 'function' ? provider.tokenStore() : null;
}

/** Bounds every call as `boundedStore` does: within `timeoutMs`, failures as `store_unavailable`. */
export function boundedTokenStore(store: TokenStore, options: BoundedStoreOptions): TokenStore {
  const bound = <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    boundedCall(store, name, call, options);
  return {
    issueFamily: bound('issueFamily', store.issueFamily),
    rotate: bound('rotate', store.rotate),
    purgeExpiredFamilies: bound('purgeExpiredFamilies', store.purgeExpiredFamilies),
    listSigningKeys: bound('listSigningKeys', store.listSigningKeys),
    addSigningKey: bound('addSigningKey', store.addSigningKey),
    deleteSigningKeys: bound('deleteSigningKeys', store.deleteSigningKeys),
  };
}
