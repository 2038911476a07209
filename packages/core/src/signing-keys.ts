/**
 * The keys that sign access tokens (token mode), as a store keeps them when the config gives none
 * (DESIGN: "Keys are made on first start (kept in the store)"). Every node of a deployment reads
 * the same keys, so any node verifies — and publishes — what any other signed, and a restart keeps
 * every key whose tokens may still be in use.
 *
 * Keys are numbered by `generation` (1, 2, …). Adding a generation that exists already does
 * nothing, which is how nodes that start together agree on one first key, and how two racing
 * rotations end up with one new key, not two.
 *
 * The private key is kept as the JWK text jose exports: whoever can read the store can sign access
 * tokens, so the store is to be protected like the API key (or the keys given in the config instead).
 */
export interface StoredSigningKey {
  generation: number;
  /** The JWS `kid`: unique, not secret. */
  kid: string;
  /** `ES256` or `EdDSA`. */
  alg: string;
  /** The private JWK, as JSON text. */
  privateJwk: string;
  /** The public JWK, as JSON text (what the JWKS publishes). */
  publicJwk: string;
  createdAt: number;
  /** From when it signs; published from `createdAt`, so verifiers learn it before its first token. */
  activatesAt: number;
}

export interface SigningKeyStore {
  /** Every kept key, by generation, oldest first. */
  listSigningKeys(): Promise<StoredSigningKey[]>;
  /** Keeps `key` unless its generation exists; true if it was added. Durable before it resolves. */
  addSigningKey(key: StoredSigningKey): Promise<boolean>;
  /** Deletes the keys of generation `upTo` and older; returns how many. */
  deleteSigningKeys(upTo: number): Promise<number>;
}

const SIGNING_KEY_FIELDS = ['kid', 'alg', 'privateJwk', 'publicJwk'] as const;

/** Refuses a key a store could not keep faithfully (a programming error, hence `TypeError`). */
export function checkSigningKey(key: StoredSigningKey): void {
  if (!Number.isSafeInteger(key.generation) || key.generation < 1) {
    throw new TypeError('signing key: generation must be an integer of at least 1');
  }
  for (const field of SIGNING_KEY_FIELDS) {
    const value = key[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > 8192) {
      throw new TypeError(`signing key: ${field} must be a non-empty string`);
    }
  }
  for (const field of ['createdAt', 'activatesAt'] as const) {
    if (!Number.isSafeInteger(key[field]) || key[field] < 0) {
      throw new TypeError(`signing key: ${field} must be an integer number of ms since the epoch`);
    }
  }
}
