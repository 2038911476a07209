import { ValidationError } from '@vigil/core';

/** The size limits of the protocol (DESIGN: "Limits"). */
export const LIMITS = {
  /** A request body, in bytes; larger ones answer `413 payload_too_large`. */
  bodyBytes: 64 * 1024,
  /** `subject`, in characters. */
  subjectLength: 256,
  /** `attributes` and `params`, serialized as JSON, in bytes. */
  jsonObjectBytes: 4 * 1024,
  /** A policy name (core allows 1–64 characters). */
  policyNameLength: 64,
} as const;

/**
 * The UTF-8 size of `value` serialized as JSON, or `Infinity` once it passes `max`. Walks the value
 * with its own stack and stops early: `JSON.stringify` recurses, and a 64 KB body nested ten thousand
 * levels deep would overflow the call stack (a 500) before any size check could refuse it.
 */
export function jsonSizeUpTo(value: unknown, max: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    if (size > max) return Number.POSITIVE_INFINITY;
    const item = stack.pop();
    if (Array.isArray(item)) {
      size += 2 + Math.max(0, item.length - 1); // brackets and commas
      for (const element of item) stack.push(element);
    } else if (item !== null && typeof item === 'object') {
      const entries = Object.entries(item);
      size += 2 + Math.max(0, entries.length - 1);
      for (const [key, element] of entries) {
        size += Buffer.byteLength(JSON.stringify(key)) + 1; // the key and its colon
        stack.push(element);
      }
    } else {
      size += Buffer.byteLength(JSON.stringify(item) ?? 'null');
    }
  }
  return size > max ? Number.POSITIVE_INFINITY : size;
}

/** Refuses a JSON object (`attributes`, `params`) larger than the protocol allows. */
export function checkJsonObjectSize(value: unknown, field: string): void {
  if (value === undefined) return;
  if (jsonSizeUpTo(value, LIMITS.jsonObjectBytes) > LIMITS.jsonObjectBytes) {
    throw new ValidationError([
      {
        field,
        rule: 'max_size',
        message: `must be at most ${LIMITS.jsonObjectBytes} bytes as JSON`,
      },
    ]);
  }
}

/**
 * Refuses text with a lone UTF-16 surrogate (`"\ud800"` is valid JSON, but no Unicode string): the
 * stores keep text as UTF-8, which turns it into U+FFFD, so a subject accepted as sent would be
 * stored as another — one the backend could never list or revoke by the name it gave. Only a JSON
 * body can carry one: a URL's bytes decode to well-formed text (or stay percent-escaped). Attributes
 * and params need no such check: they are stored as JSON text, whose escapes keep them intact.
 */
export function checkWellFormed(value: string | undefined, field: string): void {
  if (value === undefined || isWellFormed(value)) return;
  throw new ValidationError([
    { field, rule: 'well_formed', message: 'must be well-formed Unicode (no lone surrogates)' },
  ]);
}

/** `String.prototype.isWellFormed` (Node 20; its type is in TypeScript's ES2024 lib, not loaded here). */
function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}
