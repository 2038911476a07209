import { randomBytes } from 'node:crypto';
import {
  type Clock,
  expiresAt,
  newRefreshToken,
  newRotationSalt,
  nextRefreshToken,
  type Policy,
  parseRefreshToken,
  RateLimitedError,
  refreshFamilyId,
  refreshTokenHash,
  SessionEndedError,
  type SessionRecord,
  type SessionStatus,
  type Signal,
  sessionStatus,
  type TokenConfig,
  type TokenStore,
  VigilError,
} from '@vigil/core';
import { SignJWT } from 'jose';
import type { TokenBuckets } from './rate-limit.js';
import type { SessionService } from './sessions-service.js';
import type { KeyRing } from './token-keys.js';

/** DESIGN: `tokens` — a refresh token is absent when it travels in the cookie instead. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  accessExpiresInMs: number;
  status: SessionStatus;
}

export interface TokenServiceOptions {
  service: SessionService;
  /** The bounded token store. */
  tokens: TokenStore;
  keys: KeyRing;
  config: TokenConfig;
  /** How long ended sessions are kept: a family lives as long as its session's record. */
  endedRetentionMs: number;
  /** Per-family refresh limit (the heartbeat limit's settings). */
  limiter: TokenBuckets;
  clock: Clock;
}

const unknownToken = () => new VigilError('unauthenticated', 'Unknown refresh token.');

/**
 * Token mode (DESIGN: Token mode): access tokens signed for a live session, refresh tokens rotated
 * on every use. A refresh is three store calls: read the session (for its policy's grace window),
 * rotate (atomic: the theft check), then touch it like a heartbeat — `active` extends, `sleeping`
 * does not. The session stays the authority: an access token's `exp` is never later than the
 * session's idle or absolute deadline, and a refresh of an ended session is refused with the reason.
 */
export class TokenService {
  readonly #options: TokenServiceOptions;

  constructor(options: TokenServiceOptions) {
    this.#options = options;
  }

  /** `POST /v1/token`: a new refresh-token family and an access token for a live session. */
  async issue(sessionId: string): Promise<TokenPair> {
    const { service, tokens, endedRetentionMs } = this.#options;
    const now = this.#options.clock.now();
    const record = await service.find(sessionId, now);
    if (record === null) throw new VigilError('not_found', 'No such session.');
    if (record.endedAt !== null && record.reason !== null)
      throw new SessionEndedError(record.reason, record.endedAt);
    const policy = service.policyFor(record.policy);
    const { token, parts } = newRefreshToken(record.id);
    await tokens.issueFamily({
      sessionId: record.id,
      familyId: refreshFamilyId(parts.family),
      tokenHash: refreshTokenHash(token),
      issuedAt: now,
      // As long as the session's own record: past it, a refresh gets the same 401 as the session.
      expiresAt: record.absoluteExpiresAt + endedRetentionMs,
    });
    return { ...(await this.#access(record, policy, now)), refreshToken: token };
  }

  /**
   * `POST /v1/token/refresh`: rotates the presented token and signs a new access token; `active`
   * counts as activity. A reused token ends the session (`refresh_reuse`) and is refused with it.
   */
  async refresh(presented: string, state: Signal): Promise<TokenPair> {
    const { refreshToken, sessionId } = await this.#consume(presented);
    const { service } = this.#options;
    const now = this.#options.clock.now();
    const { record, policy } = await service.authorize(sessionId, state, now);
    return { ...(await this.#access(record, policy, now)), refreshToken };
  }

  /** `DELETE /v1/token`: logs the session out, authenticated by a refresh token (which is used up). */
  async logout(presented: string): Promise<void> {
    const { sessionId } = await this.#consume(presented);
    await this.#options.service.logout(sessionId);
  }

  /**
   * Checks and rotates a presented token: the token to hand out next (the rotated one, or in the
   * grace window the current one again), or a refusal. Rate-limited per family before anything
   * changes, so a `429` never costs a rotation (a retried request still holds a usable token).
   */
  async #consume(presented: string): Promise<{ refreshToken: string; sessionId: string }> {
    const { service, tokens, limiter } = this.#options;
    const parts = parseRefreshToken(presented);
    if (parts === null) throw unknownToken();
    const now = this.#options.clock.now();
    const familyId = refreshFamilyId(parts.family);
    // Keyed by family, which only a token's holder knows: a stranger who knows a session id
    // cannot use up its owner's refreshes.
    const waitMs = limiter.take(familyId, now);
    if (waitMs > 0) throw new RateLimitedError(waitMs);
    const record = await service.find(parts.sessionId, now);
    if (record === null) throw unknownToken();
    const nextSalt = newRotationSalt();
    const next = nextRefreshToken(parts, nextSalt);
    const outcome = await tokens.rotate({
      sessionId: parts.sessionId,
      familyId,
      presentedHash: refreshTokenHash(presented),
      nextHash: refreshTokenHash(next),
      nextSalt,
      graceMs: service.policyFor(record.policy).refreshGraceMs,
      now,
    });
    switch (outcome.kind) {
      case 'unknown':
        throw unknownToken();
      case 'reuse':
        // The theft signal: the whole session ends, its session token and every family with it.
        await service.end(parts.sessionId, 'refresh_reuse', now);
        await service.status(parts.sessionId, now);
        throw new Error('a session ended for refresh_reuse still reads as live');
      case 'rotated':
        return { refreshToken: next, sessionId: parts.sessionId };
      case 'grace': {
        const current = nextRefreshToken(parts, outcome.salt);
        // Always equal (the salt derived the current token from this one); checked, not assumed.
        if (refreshTokenHash(current) !== outcome.currentHash) throw unknownToken();
        return { refreshToken: current, sessionId: parts.sessionId };
      }
    }
  }

  /** A signed access token for a live session: `exp` ≤ min(idle deadline, absolute deadline, now + ttl). */
  async #access(
    record: SessionRecord,
    policy: Policy,
    now: number,
  ): Promise<Omit<TokenPair, 'refreshToken'>> {
    const { keys, config } = this.#options;
    const key = await keys.signingKey(now);
    // Seconds, rounded down: never a moment later than the session's own end.
    const exp = Math.floor(Math.min(expiresAt(record), now + policy.accessTokenTtlMs) / 1000);
    const jwt = new SignJWT({ sid: record.id, policy: record.policy })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setSubject(record.subject)
      .setIssuer(config.issuer)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(exp)
      .setJti(randomBytes(12).toString('base64url'));
    if (config.audience !== null) jwt.setAudience(config.audience);
    return {
      accessToken: await jwt.sign(key.key),
      accessExpiresInMs: Math.max(0, exp * 1000 - now),
      status: sessionStatus(record, policy, now),
    };
  }
}
