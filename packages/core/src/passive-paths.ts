import type { Problem } from './config.js';
import { type ErrorDetail, ValidationError } from './errors.js';

/*
 * Passive path patterns: forwarded paths that are background traffic (polling), so that a
 * forward-auth check or a middleware-checked request for one counts as sleeping, not as activity.
 * Shared by the server's `/v1/authorize` and `@vigil/node`, so one list means the same everywhere.
 */

/** Matches forwarded request URIs against the configured passive patterns; built once, at start. */
export interface PathMatcher {
  readonly patterns: readonly string[];
  /** True when the path of `uri` (query and fragment ignored, dot segments resolved) matches a pattern. */
  matches(uri: string): boolean;
}

const MAX_PATTERNS = 100;
const MAX_PATTERN_LENGTH = 256;
/** Longer forwarded paths are never passive: matching stays cheap whatever a client sends. */
const MAX_MATCHED_PATH = 2048;
/** RFC 3986 path characters, plus `*`. No `?` or `#`: patterns match the path only. */
const PATTERN_SHAPE = /^\/[A-Za-z0-9\-._~!$&'()+,;=:@%/*]*$/;

/**
 * Compiles passive path patterns into one matcher, refusing bad ones with the path of the field.
 * The grammar is kept small so that matching is linear in the path: `**` must be a whole segment
 * and appear at most once per pattern, and a segment holds at most one other `*`.
 */
export function compilePassivePaths(input: unknown, field = 'passivePaths'): PathMatcher {
  const details: ErrorDetail[] = [];
  const matcher = resolvePassivePaths(
    input,
    (f, rule, message) => details.push({ field: f, rule, message }),
    field,
  );
  if (details.length > 0) throw new ValidationError(details);
  return matcher;
}

export function resolvePassivePaths(input: unknown, problem: Problem, field = 'passivePaths'): PathMatcher {
  if (input === undefined) return pathMatcher([], null);
  if (!Array.isArray(input)) {
    problem(field, 'type', "must be an array of path patterns such as '/api/poll' or '/api/**'");
    return pathMatcher([], null);
  }
  if (input.length > MAX_PATTERNS) problem(field, 'max_items', `must hold at most ${MAX_PATTERNS} patterns`);
  const sources: string[] = [];
  input.forEach((pattern, index) => {
    const at = `${field}.${index}`;
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
      problem(at, 'type', `must be a string of 1–${MAX_PATTERN_LENGTH} characters`);
      return;
    }
    const source = patternSource(pattern);
    if (typeof source === 'string') sources.push(source);
    else problem(at, source.rule, source.message);
  });
  const patterns = input.filter((p): p is string => typeof p === 'string');
  return pathMatcher(patterns, sources.length === 0 ? null : new RegExp(`^(?:${sources.join('|')})$`));
}

function patternSource(pattern: string): string | { rule: string; message: string } {
  if (!PATTERN_SHAPE.test(pattern)) {
    return {
      rule: 'pattern',
      message: "must start with '/' and hold only URL path characters and '*' (no query or fragment)",
    };
  }
  if (/%(?![0-9A-Fa-f]{2})/.test(pattern)) return { rule: 'pattern', message: "has a '%' that is not %XX" };
  const segments = pattern.split('/').slice(1);
  let globstars = 0;
  let source = '';
  for (const [index, segment] of segments.entries()) {
    if (segment === '.' || segment === '..' || (segment === '' && index < segments.length - 1)) {
      // Paths are matched after '//' is merged and dot segments resolved: these could never match.
      return { rule: 'pattern', message: "must not hold '//', '/./' or '/../'" };
    }
    if (segment === '**') {
      globstars++;
      // Zero or more whole segments: `/api/**` matches `/api`, `/api/` and everything below.
      source += '(?:/[^/]*)*';
      continue;
    }
    if (segment.includes('**')) {
      return { rule: 'pattern', message: "'**' must be a whole path segment, as in '/api/**'" };
    }
    if (segment.split('*').length > 2) {
      return { rule: 'pattern', message: "a path segment may hold at most one '*'" };
    }
    source += `/${segment
      .split('*')
      .map((part) => normalizeEscapes(part).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}`;
  }
  if (globstars > 1) return { rule: 'pattern', message: "a pattern may hold '**' at most once" };
  return source;
}

function pathMatcher(patterns: readonly string[], regex: RegExp | null): PathMatcher {
  return Object.freeze({
    patterns: Object.freeze([...patterns]),
    matches(uri: string): boolean {
      if (regex === null) return false;
      const path = requestPath(uri);
      return path !== null && regex.test(path);
    },
  });
}

/**
 * The path of a forwarded URI as an application would route it: no query or fragment, `//` merged
 * (as nginx does), dot segments resolved and unreserved characters decoded (`%70oll` is `poll`).
 * Null for what cannot be a path, or one too long to be worth matching.
 */
export function requestPath(uri: string): string | null {
  let end = uri.length;
  const query = uri.indexOf('?');
  if (query !== -1) end = query;
  const hash = uri.indexOf('#');
  if (hash !== -1 && hash < end) end = hash;
  let path = uri.slice(0, end);
  if (!path.startsWith('/')) {
    // An absolute-form request target (`GET http://host/path`).
    try {
      path = new URL(path).pathname;
    } catch {
      return null;
    }
  }
  if (path.length > MAX_MATCHED_PATH) return null;
  if (path.includes('//')) path = path.replace(/\/{2,}/g, '/');
  if (path.includes('%') || path.includes('/.') || path.includes('\\')) {
    try {
      // A backslash stays a character (as nginx sees it), never a separator as URL would make it.
      path = new URL(path.replace(/\\/g, '%5C'), 'http://h').pathname;
    } catch {
      return null;
    }
    path = normalizeEscapes(path);
  }
  return path;
}

/** Decodes percent-escapes of unreserved characters and upper-cases the others (RFC 3986 6.2.2). */
function normalizeEscapes(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${hex.toUpperCase()}`;
  });
}
