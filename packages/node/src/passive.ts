import type { IncomingHttpHeaders } from 'node:http';
import {
  compilePassivePaths as compileCorePatterns,
  isVigilError,
  type PathMatcher,
  type ValidationError,
} from '@vigil/core';

/**
 * Passive-path patterns with exactly the syntax of the server's `passivePaths` config (core's
 * matcher: `*` within one segment, `**` whole segments, `/api/**` also matches `/api`; matched against
 * the request target's path, query ignored, `//` merged, dot segments resolved). Compiled once.
 */
export function compilePassivePaths(caller: string, patterns: unknown): ((url: string) => boolean) | null {
  if (patterns === undefined) return null;
  if (!Array.isArray(patterns)) {
    throw new TypeError(
      `${caller}: options.passivePaths must be an array of path patterns such as '/api/poll/**'`,
    );
  }
  if (patterns.length === 0) return null;
  let matcher: PathMatcher;
  try {
    matcher = compileCorePatterns(patterns, 'options.passivePaths');
  } catch (error) {
    if (!isVigilError(error) || error.code !== 'validation_failed') throw error;
    const problems = (error as ValidationError).details.map((detail) => `${detail.field} ${detail.message}`);
    throw new TypeError(`${caller}: ${problems.join('; ')}`);
  }
  return function isPassivePath(url: string): boolean {
    return matcher.matches(url);
  };
}

/** `X-Vigil-Activity: passive` (DESIGN: "What counts as activity"); a repeated header arrives comma-joined. */
export function hasPassiveHeader(headers: IncomingHttpHeaders): boolean {
  const value = headers['x-vigil-activity'];
  if (typeof value !== 'string' || value.length === 0) return false;
  return value.split(',').some((part) => part.trim().toLowerCase() === 'passive');
}
