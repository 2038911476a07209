import {
  checkSigningKey,
  type NewRefreshFamily,
  type RotateOutcome,
  type RotateRequest,
  type StoredSigningKey,
  type TokenStore,
} from '@vigil/core';
import type { RedisClient } from './connection.js';
import type { KeySpace } from './keys.js';
import { refreshIssue, refreshRotate } from './scripts/refresh-family.js';

export interface RedisTokenStoreOptions {
  /** The session store's key space: families share their session's hash tag (and slot). */
  keys: KeySpace;
  /**
   * Runs one call as the session store runs its own: refused once that store is closed, waited for
   * by its `close()`, connection trouble turned into `store_unavailable`.
   */
  run: <T>(operation: string, work: () => Promise<T>) => Promise<T>;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

const SCRIPTS = { refreshIssue, refreshRotate } as const;

/**
 * Token mode's state on the session store's Redis (standalone or Cluster), on the same client
 * (`RedisStore#tokenStore()`). Each family is one hash whose key carries its session's hash tag,
 * and a rotation is one Lua script on it: atomic on one slot, so of two refreshes presenting the same
 * token exactly one rotates, whichever node they reach. A family expires with its key's TTL.
 * Signing keys are one small hash; `HSETNX` adds a generation once.
 */
export class RedisTokenStore implements TokenStore {
  readonly #client: RedisClient;
  readonly #options: RedisTokenStoreOptions;
  readonly #scripts: Record<keyof typeof SCRIPTS, ScriptCall>;

  constructor(client: RedisClient, options: RedisTokenStoreOptions) {
    this.#client = client;
    this.#options = options;
    const scripts: Partial<Record<keyof typeof SCRIPTS, ScriptCall>> = {};
    for (const [name, { numberOfKeys, lua }] of Object.entries(SCRIPTS) as [
      keyof typeof SCRIPTS,
      (typeof SCRIPTS)[keyof typeof SCRIPTS],
    ][]) {
      const command = `vigil_${name}`;
      client.defineCommand(command, { numberOfKeys, lua });
      const call = (client as unknown as Record<string, ScriptCall>)[command];
      if (call === undefined) throw new Error(`defineCommand did not define ${command}`);
      scripts[name] = call.bind(client);
    }
    this.#scripts = scripts as Record<keyof typeof SCRIPTS, ScriptCall>;
  }

  issueFamily({ sessionId, familyId, tokenHash, issuedAt, expiresAt }: NewRefreshFamily): Promise<void> {
    return this.#op('issueFamily', async () => {
      const ttl = Math.max(1000, Math.ceil(expiresAt - issuedAt));
      const added = await this.#scripts.refreshIssue(
        this.#options.keys.refreshFamily(sessionId, familyId),
        tokenHash,
        expiresAt,
        ttl,
      );
      if (added !== 1) throw new Error('RedisTokenStore: this refresh family exists already');
    });
  }

  rotate(request: RotateRequest): Promise<RotateOutcome> {
    return this.#op('rotate', async () => {
      const reply = (await this.#scripts.refreshRotate(
        this.#options.keys.refreshFamily(request.sessionId, request.familyId),
        request.now,
        request.presentedHash,
        request.nextHash,
        request.nextSalt,
        request.graceMs,
      )) as string[];
      const [outcome, first, second] = reply;
      if (outcome === 'rotated' || outcome === 'unknown') return { kind: outcome };
      if (outcome === 'reuse') return { kind: 'reuse', revokedNow: first === '1' };
      if (outcome === 'grace' && first !== undefined && second !== undefined) {
        return { kind: 'grace', salt: first, currentHash: second };
      }
      throw new Error(`RedisTokenStore: unexpected rotate reply ${JSON.stringify(outcome)}`);
    });
  }

  /** Families expire with their keys' TTL: nothing to do here. */
  async purgeExpiredFamilies(_now: number, _limit: number): Promise<number> {
    return 0;
  }

  listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.#op('listSigningKeys', async () => {
      const all = await this.#client.hgetall(this.#options.keys.signingKeys);
      return Object.values(all)
        .map((text) => JSON.parse(text) as StoredSigningKey)
        .sort((a, b) => a.generation - b.generation);
    });
  }

  addSigningKey(key: StoredSigningKey): Promise<boolean> {
    checkSigningKey(key);
    return this.#op('addSigningKey', async () => {
      const { generation, kid, alg, privateJwk, publicJwk, createdAt, activatesAt } = key;
      const text = JSON.stringify({ generation, kid, alg, privateJwk, publicJwk, createdAt, activatesAt });
      return (await this.#client.hsetnx(this.#options.keys.signingKeys, String(generation), text)) === 1;
    });
  }

  deleteSigningKeys(upTo: number): Promise<number> {
    return this.#op('deleteSigningKeys', async () => {
      const key = this.#options.keys.signingKeys;
      const old = (await this.#client.hkeys(key)).filter((generation) => Number(generation) <= upTo);
      return old.length === 0 ? 0 : this.#client.hdel(key, ...old);
    });
  }

  #op<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return this.#options.run(operation, work);
  }
}
