import * as crypto from 'node:crypto';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix that makes leaked tokens easy for secret scanners to recognise. */
export const TOKEN_PREFIX = 'vgl_';
const TOKEN_SHAPE = /^vgl_[A-Za-z0-9_-]{43}$/;

/** A new session token: 256 random bits. Shown to the client once; only its hash is kept. */
export function newSessionToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** True for strings shaped like a session token; anything else cannot be one and needs no lookup. */
export function looksLikeSessionToken(value: string): boolean {
  return TOKEN_SHAPE.test(value);
}

/**
 * The session id is the SHA-256 of the token. A store lookup by this hash is the comparison, so it
 * takes the same time whatever the token; a stolen database holds no usable token.
 */
export function sessionIdFor(token: string): string {
  return sha256Base64url(token);
}

/**
 * SHA-256 as base64url, with Node's one-shot `crypto.hash` where it exists (20.12+): every
 * request with a token hashes it, and the one-shot call costs a third of a Hash object's.
 */
const sha256Base64url: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'base64url')
    : (text) => createHash('sha256').update(text).digest('base64url');

/** Constant-time equality of two secrets of any length (both are hashed to a fixed size first). */
export function secretsEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
