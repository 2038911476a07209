import { DeadlineIndex } from './deadline-index.js';
import {
  decideRotation,
  type NewRefreshFamily,
  type RefreshFamily,
  type RotateOutcome,
  type RotateRequest,
} from './refresh-tokens.js';
import { checkSigningKey, type StoredSigningKey } from './signing-keys.js';
import type { TokenStore } from './token-store.js';

/**
 * Token mode's state in this process's memory (with `MemoryStore`): for tests and throwaway single
 * processes. Like the memory store, it is also the plainest statement of the contract.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #families = new Map<string, RefreshFamily>();
  readonly #expiries = new DeadlineIndex();
  readonly #keys = new Map<number, StoredSigningKey>();

  async issueFamily({ sessionId, familyId, tokenHash, expiresAt }: NewRefreshFamily): Promise<void> {
    const key = familyKey(sessionId, familyId);
    if (this.#families.has(key)) throw new Error('MemoryTokenStore: this refresh family exists already');
    this.#families.set(key, {
      sessionId,
      familyId,
      currentHash: tokenHash,
      previousHash: null,
      salt: null,
      rotatedAt: null,
      revoked: false,
      expiresAt,
    });
    this.#expiries.set(key, expiresAt);
  }

  async rotate(request: RotateRequest): Promise<RotateOutcome> {
    const key = familyKey(request.sessionId, request.familyId);
    const { outcome, write } = decideRotation(this.#families.get(key) ?? null, request);
    if (write !== null) this.#families.set(key, write);
    return outcome;
  }

  async purgeExpiredFamilies(now: number, limit: number): Promise<number> {
    let purged = 0;
    for (const key of this.#expiries.candidates(now)) {
      if (purged >= limit) break;
      const family = this.#families.get(key);
      if (family !== undefined && family.expiresAt > now) continue;
      this.#families.delete(key);
      this.#expiries.delete(key);
      if (family !== undefined) purged++;
    }
    return purged;
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    return [...this.#keys.values()].sort((a, b) => a.generation - b.generation).map((key) => ({ ...key }));
  }

  async addSigningKey(key: StoredSigningKey): Promise<boolean> {
    checkSigningKey(key);
    if (this.#keys.has(key.generation)) return false;
    this.#keys.set(key.generation, { ...key });
    return true;
  }

  async deleteSigningKeys(upTo: number): Promise<number> {
    let deleted = 0;
    for (const generation of [...this.#keys.keys()]) {
      if (generation <= upTo) {
        this.#keys.delete(generation);
        deleted++;
      }
    }
    return deleted;
  }
}

/** Session ids and family ids are base64url: a NUL cannot occur in either. */
function familyKey(sessionId: string, familyId: string): string {
  return `${sessionId}\u0000${familyId}`;
}
