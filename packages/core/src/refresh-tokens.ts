import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * Refresh tokens of token mode (DESIGN: Token mode), and the contract of the stores that keep them.
 *
 * A refresh token is `vrt_<sessionId>.<family>.<secret>`. Every `POST /v1/token` starts a *family*
 * (a fresh random `family` part); every refresh *rotates* it: the next token has the same session
 * and family and a new secret. The store keeps, per family, only hashes: of the current token, of
 * the one before it, and of the family part. Knowing the family part proves the caller once held a
 * real token of that family, so a token of the family that is neither current nor the grace-window
 * previous one is a *reuse* — a stolen token used after its owner (or the owner after the thief) —
 * and ends the whole session. Someone who knows only a session id (it is in every access token's
 * `sid`) cannot make such a token, so cannot end anyone's session by guessing.
 *
 * The next secret is derived from the presented one: `HMAC-SHA256(key: salt, message: secret)`,
 * with a random `salt` that the store keeps next to the hashes. A retried request, or a second tab
 * racing the first, that presents the previous token within the grace window is given the
 * *current* token again: recomputed from what it presented and the kept salt, never read back
 * from the store, which holds no usable token (a stolen database plus the salt gives nothing
 * without a token). Both racers end up holding the same refresh token, so neither is logged out.
 */

export const REFRESH_TOKEN_PREFIX = 'vrt_';
const SHAPE = /^vrt_([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/** The parts of a refresh token; `family` and `secret` are secrets, `sessionId` is not. */
export interface RefreshTokenParts {
  sessionId: string;
  family: string;
  secret: string;
}

/** A new family's first token for a session: 128 random bits of family, 256 of secret. */
export function newRefreshToken(sessionId: string): { token: string; parts: RefreshTokenParts } {
  const parts = {
    sessionId,
    family: randomBytes(16).toString('base64url'),
    secret: randomBytes(32).toString('base64url'),
  };
  return { token: formatRefreshToken(parts), parts };
}

export function formatRefreshToken({ sessionId, family, secret }: RefreshTokenParts): string {
  return `${REFRESH_TOKEN_PREFIX}${sessionId}.${family}.${secret}`;
}

/** The parts of a well-formed refresh token, or null: anything else cannot be one and needs no lookup. */
export function parseRefreshToken(value: unknown): RefreshTokenParts | null {
  if (typeof value !== 'string') return null;
  const match = SHAPE.exec(value);
  if (match === null) return null;
  return { sessionId: match[1] as string, family: match[2] as string, secret: match[3] as string };
}

/** What the store keeps of a token: its SHA-256 (base64url). */
export function refreshTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** What the store keeps of a family part: its SHA-256 (base64url), the family's id. */
export function refreshFamilyId(family: string): string {
  return createHash('sha256').update(family).digest('base64url');
}

/** A random salt for one rotation (not a secret on its own: useless without the presented token). */
export function newRotationSalt(): string {
  return randomBytes(16).toString('base64url');
}

/** The token that follows `parts` under `salt`: same session and family, derived secret. */
export function nextRefreshToken(parts: RefreshTokenParts, salt: string): string {
  const secret = createHmac('sha256', salt).update(parts.secret).digest('base64url');
  return formatRefreshToken({ ...parts, secret });
}

/** One family as a store keeps it. Times are epoch ms. */
export interface RefreshFamily {
  sessionId: string;
  /** `refreshFamilyId(family)`. */
  familyId: string;
  currentHash: string;
  /** The token the current one replaced; null before the first rotation. */
  previousHash: string | null;
  /** The salt that derived the current token from the previous one; null before the first rotation. */
  salt: string | null;
  /** When the current token replaced the previous one; null before the first rotation. */
  rotatedAt: number | null;
  /** A reuse was seen: every token of the family is refused from then on. */
  revoked: boolean;
  /** From this moment on the family is unknown (and may be deleted). */
  expiresAt: number;
}

export interface NewRefreshFamily {
  sessionId: string;
  familyId: string;
  /** Hash of the family's first token. */
  tokenHash: string;
  /** Now (stores with their own expiry, like Redis, count the time to live from here). */
  issuedAt: number;
  expiresAt: number;
}

export interface RotateRequest {
  sessionId: string;
  familyId: string;
  /** Hash of the token the caller presents. */
  presentedHash: string;
  /** Hash of `nextRefreshToken(presented, nextSalt)`: becomes current if the presented one is. */
  nextHash: string;
  nextSalt: string;
  /** How long after a rotation the token it replaced is still answered with `grace` (policy `refreshGrace`). */
  graceMs: number;
  now: number;
}

/**
 * - `rotated`: the presented token was current; `nextHash` is current now.
 * - `grace`: the presented token was replaced less than `graceMs` ago; nothing changed. The caller
 *   gives out the current token again: `nextRefreshToken(presented, salt)`, whose hash is `currentHash`.
 * - `reuse`: a token of this family that may not be used (any other, or any at all once revoked).
 *   The family is revoked (`revokedNow` for the call that did it); the caller ends the session
 *   with reason `refresh_reuse`.
 * - `unknown`: no such family (never issued, expired, or purged).
 */
export type RotateOutcome =
  | { kind: 'rotated' }
  | { kind: 'grace'; salt: string; currentHash: string }
  | { kind: 'reuse'; revokedNow: boolean }
  | { kind: 'unknown' };

/**
 * The rotation rule, pure: what `rotate` answers for `family` as stored, and what to write (null:
 * nothing). Stores apply it atomically (read, decide, write as one step); the Redis store restates
 * it in Lua, and the conformance suite holds every store to it.
 */
export function decideRotation(
  family: RefreshFamily | null,
  request: RotateRequest,
): { outcome: RotateOutcome; write: RefreshFamily | null } {
  if (family === null || request.now >= family.expiresAt)
    return { outcome: { kind: 'unknown' }, write: null };
  if (family.revoked) return { outcome: { kind: 'reuse', revokedNow: false }, write: null };
  if (request.presentedHash === family.currentHash) {
    return {
      outcome: { kind: 'rotated' },
      write: {
        ...family,
        currentHash: request.nextHash,
        previousHash: request.presentedHash,
        salt: request.nextSalt,
        rotatedAt: request.now,
      },
    };
  }
  if (
    request.presentedHash === family.previousHash &&
    family.salt !== null &&
    family.rotatedAt !== null &&
    request.now - family.rotatedAt <= request.graceMs
  ) {
    return { outcome: { kind: 'grace', salt: family.salt, currentHash: family.currentHash }, write: null };
  }
  return { outcome: { kind: 'reuse', revokedNow: true }, write: { ...family, revoked: true } };
}

/**
 * Where refresh-token families live: durable and shared by every node (the session's store).
 * `issueFamily` and `rotate` are durable before they resolve; `rotate` is atomic, so of two calls
 * that present the same current token exactly one gets `rotated`.
 */
export interface RefreshTokenStore {
  /** Keeps a new family (its id is fresh and random: a clash is a bug, and may throw). */
  issueFamily(family: NewRefreshFamily): Promise<void>;
  /** Applies `decideRotation` atomically. */
  rotate(request: RotateRequest): Promise<RotateOutcome>;
  /** Deletes up to `limit` families whose `expiresAt` is at or before `now`; returns how many. */
  purgeExpiredFamilies(now: number, limit: number): Promise<number>;
}
