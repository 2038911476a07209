import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SigningKeyStore, StoredSigningKey } from '@vigil/core';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type KeyObject,
} from 'jose';

/**
 * The keys that sign access tokens, and the JWKS that publishes them (token mode).
 *
 * Kept in the store (the default): the first node to need a key makes generation 1 and every other
 * node finds it there; `vigil keys rotate` (`rotateSigningKey`) adds the next generation, published
 * at once but signing only from `activatesAt`, so every node — which re-reads the store's keys every
 * `reloadMs` — and every verifier has it before its first token. A key that was replaced stays
 * published until the longest access-token lifetime has passed since, then it is deleted: nobody is
 * logged out by a rotation, and nothing grows with time.
 *
 * Given in the config (`tokens.keysFile`, a JWK Set of private keys): the first key signs, all are
 * published, and the store keeps none. Every node must then be given the same file.
 */

export type SigningAlgorithm = 'ES256' | 'EdDSA';

/** What a verifier needs of a key: the public JWK with `kid`, `alg` and `use`. */
export type PublicJwk = JWK & { kid: string; alg: string; use: 'sig' };

export interface SigningKey {
  kid: string;
  alg: string;
  key: CryptoKey | KeyObject | Uint8Array;
}

/** A key as the ring holds it: imported, with its public JWK. */
export interface LoadedKey {
  generation: number;
  activatesAt: number;
  signing: SigningKey;
  publicJwk: PublicJwk;
}

/** Between a key's replacement and its removal from the JWKS, on top of the token lifetime: clock skew. */
const RETIRED_MARGIN_MS = 60_000;

/** A new key pair as the store keeps it: JWK texts and a thumbprint `kid`. */
export async function newSigningKey(
  algorithm: SigningAlgorithm,
  generation: number,
  now: number,
  activatesAt: number,
): Promise<StoredSigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = await exportJWK(privateKey);
  return {
    generation,
    kid,
    alg: algorithm,
    privateJwk: JSON.stringify({ ...privateJwk, kid, alg: algorithm }),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg: algorithm, use: 'sig' }),
    createdAt: now,
    activatesAt,
  };
}

/**
 * Adds the next generation to the store (`vigil keys rotate`), signing from `now + activateInMs`.
 * Of two rotations racing, one adds it; the other finds the generation taken and tries the next.
 */
export async function rotateSigningKey(
  store: SigningKeyStore,
  algorithm: SigningAlgorithm,
  now: number,
  activateInMs: number,
): Promise<StoredSigningKey> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const kept = await store.listSigningKeys();
    const generation = (kept.at(-1)?.generation ?? 0) + 1;
    const key = await newSigningKey(algorithm, generation, now, now + activateInMs);
    if (await store.addSigningKey(key)) return key;
  }
  throw new Error('rotateSigningKey: other rotations kept taking the next generation; try again');
}

async function load(stored: StoredSigningKey): Promise<LoadedKey> {
  const privateJwk = JSON.parse(stored.privateJwk) as JWK;
  const publicJwk = JSON.parse(stored.publicJwk) as JWK;
  return {
    generation: stored.generation,
    activatesAt: stored.activatesAt,
    signing: { kid: stored.kid, alg: stored.alg, key: await importJWK(privateJwk, stored.alg) },
    publicJwk: { ...publicJwk, kid: stored.kid, alg: stored.alg, use: 'sig' },
  };
}

const ALGORITHMS = new Set<string>(['ES256', 'EdDSA']);

/**
 * Reads a `tokens.keysFile`: `{"keys": [private JWK, …]}`, each with `kid`, `alg` (`ES256` or
 * `EdDSA`) and its private part. Throws a message naming the problem (never a key's content).
 */
export async function readKeysFile(path: string, cwd = process.cwd()): Promise<LoadedKey[]> {
  const file = resolve(cwd, path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`tokens.keysFile ${file}: cannot read a JSON key set (${(error as Error).message})`);
  }
  const keys = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new Error(`tokens.keysFile ${file}: must be {"keys": [private JWK, …]} with at least one key`);
  }
  const seen = new Set<string>();
  return Promise.all(
    keys.map(async (jwk: JWK, index) => {
      const where = `tokens.keysFile ${file}: keys[${index}]`;
      if (typeof jwk?.kid !== 'string' || jwk.kid === '' || seen.has(jwk.kid)) {
        throw new Error(`${where} needs a kid of its own`);
      }
      seen.add(jwk.kid);
      if (typeof jwk.alg !== 'string' || !ALGORITHMS.has(jwk.alg))
        throw new Error(`${where}: alg must be ES256 or EdDSA`);
      if (typeof jwk.d !== 'string') throw new Error(`${where} is not a private key`);
      const { d: _d, ...publicPart } = jwk;
      let key: SigningKey['key'];
      try {
        key = await importJWK(jwk, jwk.alg);
      } catch (error) {
        throw new Error(`${where}: not a usable ${jwk.alg} key (${(error as Error).message})`);
      }
      return {
        // The first signs: a generation above the others', active since forever.
        generation: keys.length - index,
        activatesAt: 0,
        signing: { kid: jwk.kid, alg: jwk.alg, key },
        publicJwk: { ...publicPart, kid: jwk.kid, alg: jwk.alg, use: 'sig' } as PublicJwk,
      };
    }),
  );
}

export interface KeyRingOptions {
  /** Where keys are kept and made; ignored when `configured` is given. */
  store: SigningKeyStore;
  /** Keys from `tokens.keysFile` (`readKeysFile`): used as they are, nothing is kept in the store. */
  configured?: LoadedKey[] | null;
  algorithm: SigningAlgorithm;
  /** The longest access-token lifetime of any policy: a replaced key stays published this long. */
  maxTokenTtlMs: number;
  /** How often the store's keys are read again (so a rotation reaches every node). Default 30 s. */
  reloadMs?: number;
  /** Reports a failed background re-read (the keys already loaded keep serving). */
  onReloadError?: (error: unknown) => void;
}

/**
 * This node's view of the signing keys. Reads go through a cached copy; the first read (or one
 * after a failed first read) goes to the store and fails `store_unavailable` if it cannot answer.
 */
export class KeyRing {
  readonly #options: Required<Omit<KeyRingOptions, 'configured'>>;
  readonly #configured: LoadedKey[] | null;
  #keys: LoadedKey[] | null = null;
  #loadedAt = Number.NEGATIVE_INFINITY;
  #loading: Promise<LoadedKey[]> | null = null;

  constructor(options: KeyRingOptions) {
    this.#options = { reloadMs: 30_000, onReloadError: () => {}, ...options };
    this.#configured = options.configured ?? null;
  }

  /** The key that signs at `now`: the newest active generation. */
  async signingKey(now: number): Promise<SigningKey> {
    const keys = await this.#current(now);
    let key: LoadedKey | undefined;
    for (const candidate of keys) {
      if (candidate.activatesAt > now) continue;
      if (key === undefined || candidate.generation > key.generation) key = candidate;
    }
    key ??= keys[0];
    if (key === undefined) throw new Error('KeyRing: no signing key');
    return key.signing;
  }

  /** The JWKS at `now`: upcoming keys, the signing key, and replaced keys whose tokens may live on. */
  async jwks(now: number): Promise<{ keys: PublicJwk[] }> {
    const keys = await this.#current(now);
    // Configured keys are all published: the file says which ones verifiers may still meet.
    const published = this.#configured !== null ? keys : this.#published(keys, now);
    return { keys: published.map((key) => key.publicJwk) };
  }

  #published(keys: LoadedKey[], now: number): LoadedKey[] {
    const { maxTokenTtlMs } = this.#options;
    return keys.filter((_key, i) => {
      // Replaced once a later generation became active; published until its last token expired.
      const successor = keys.slice(i + 1).find((later) => later.activatesAt <= now);
      return successor === undefined || now < successor.activatesAt + maxTokenTtlMs + RETIRED_MARGIN_MS;
    });
  }

  async #current(now: number): Promise<LoadedKey[]> {
    if (this.#configured !== null) return this.#configured;
    if (this.#keys !== null && now - this.#loadedAt < this.#options.reloadMs) return this.#keys;
    this.#loading ??= this.#load(now)
      .catch((error: unknown) => {
        // The first read must succeed (→ 503 until it does); after that the loaded keys keep
        // serving and the store is asked again a reload interval later: a failure only delays a rotation.
        if (this.#keys === null) throw error;
        this.#loadedAt = now;
        this.#options.onReloadError(error);
        return this.#keys;
      })
      .finally(() => {
        this.#loading = null;
      });
    return this.#loading;
  }

  async #load(now: number): Promise<LoadedKey[]> {
    const { store, algorithm } = this.#options;
    let stored = await store.listSigningKeys();
    if (stored.length === 0) {
      // Nodes starting together each offer a first key; the store keeps one, and all read it back.
      await store.addSigningKey(await newSigningKey(algorithm, 1, now, now));
      stored = await store.listSigningKeys();
    }
    const keys = (await Promise.all(stored.map(load))).sort((a, b) => a.generation - b.generation);
    const published = this.#published(keys, now);
    const oldestKept = Math.min(...published.map((key) => key.generation));
    if (keys.some((key) => key.generation < oldestKept)) {
      // Nobody can hold a token of these any more; any node may delete them (idempotent).
      await store.deleteSigningKeys(oldestKept - 1).catch(this.#options.onReloadError);
    }
    this.#keys = published;
    this.#loadedAt = now;
    return this.#keys;
  }
}
