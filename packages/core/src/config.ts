import { parseDuration } from './duration.js';
import { type ErrorDetail, ValidationError } from './errors.js';
import type { SessionEventType } from './events.js';
import { type PathMatcher, resolvePassivePaths } from './passive-paths.js';
import { type Policy, resolvePolicies } from './policy.js';
import { resolveTokenConfig, type TokenConfig } from './token-config.js';

/** The config file as written (JSON). */
export interface ConfigInput {
  policies?: Record<string, unknown>;
  /** Longest a store call may take before requests answer `503` (default `2s`). */
  storeTimeout?: string | number;
  /** How long ended sessions are kept so that a `401` can say why (default `24h`). */
  endedRetention?: string | number;
  /** The audit trail of session ends (`GET /v1/audit`): how long entries are kept (default `30d`). */
  audit?: { retention?: string | number };
  /** Per-session heartbeat limit: a burst, then a steady rate (defaults 10 and 1 per second). */
  heartbeatRateLimit?: { burst?: number; perSecond?: number };
  /**
   * Forwarded paths that are background traffic (polling): a forward-auth check for one of them
   * counts as sleeping, not as activity. `*` is one path segment (or part of one), `**` any number of
   * whole segments: `/api/poll`, `/api/notifications/*`, `/api/**`.
   */
  passivePaths?: string[];
  /** Cookie mode: the browser holds its session token in an HttpOnly cookie. */
  cookie?: {
    enabled?: boolean;
    name?: string;
    secure?: boolean;
    sameSite?: 'lax' | 'strict' | 'none';
    allowedOrigins?: string[];
  };
  /** Outbound webhooks: each session event POSTed, signed, to these URLs. */
  webhooks?: { url: string; secret: string; events?: string[] }[];
  /** Heartbeat relay: each accepted heartbeat forwarded to an upstream whose answer Vigil obeys. */
  relay?: {
    url: string;
    timeout?: string | number;
    failureThreshold?: number;
    probeInterval?: string | number;
  } | null;
  /** Token mode: the access tokens' issuer and audience, the key algorithm, or a key file. */
  tokens?: { issuer?: string; audience?: string; algorithm?: 'ES256' | 'EdDSA'; keysFile?: string };
}

export type SameSite = 'lax' | 'strict' | 'none';

export interface CookieConfig {
  enabled: boolean;
  /** `__Host-vigil` by default; `vigil` when `secure` is off. */
  name: string;
  secure: boolean;
  sameSite: SameSite;
  /** Origins (`https://app.example.com`) whose cookie-authenticated state changes are accepted. */
  allowedOrigins: readonly string[];
}

export interface WebhookConfig {
  url: string;
  secret: string;
  events: readonly SessionEventType[];
}

export interface RelayConfig {
  url: string;
  timeoutMs: number;
  failureThreshold: number;
  probeIntervalMs: number;
}

export interface VigilConfig {
  policies: Map<string, Policy>;
  storeTimeoutMs: number;
  endedRetentionMs: number;
  /** Audit entries older than this are purged (default 30 days). */
  audit: { retentionMs: number };
  heartbeatRateLimit: { burst: number; perSecond: number };
  passivePaths: PathMatcher;
  cookie: CookieConfig;
  webhooks: WebhookConfig[];
  relay: RelayConfig | null;
  tokens: TokenConfig;
}

/** Every event type, in the order DESIGN lists them (webhooks may subscribe to any of them). */
export const EVENT_TYPES = [
  'session.created',
  'session.warning',
  'session.extended',
  'session.expired',
  'session.revoked',
  'heartbeat.sleeping',
] as const satisfies readonly SessionEventType[];
// Fails to compile when an event type is added to events.ts but not here.
const everyEventType: Exclude<SessionEventType, (typeof EVENT_TYPES)[number]> extends never ? true : never =
  true;
void everyEventType;

/** What a webhook receives when its `events` are not given: every session event, not `heartbeat.sleeping`. */
export const DEFAULT_WEBHOOK_EVENTS: readonly SessionEventType[] = EVENT_TYPES.filter(
  (type) => type !== 'heartbeat.sleeping',
);

const TOP_LEVEL = new Set([
  'policies',
  'storeTimeout',
  'endedRetention',
  'audit',
  'heartbeatRateLimit',
  'passivePaths',
  'cookie',
  'webhooks',
  'relay',
  'tokens',
]);

export type Problem = (field: string, rule: string, message: string) => void;

/** Validates a whole config, reporting every problem at once with the path of its field. */
export function resolveConfig(input: unknown = {}): VigilConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ValidationError([
      { field: '(root)', rule: 'type', message: 'the config must be a JSON object' },
    ]);
  }
  const raw = input as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  const problem: Problem = (field, rule, message) => details.push({ field, rule, message });
  unknownFields(raw, TOP_LEVEL, '', problem);
  const collect: Collect = (compute, fallback) => {
    try {
      return compute();
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      details.push(...error.details);
      return fallback;
    }
  };
  const policies = collect(() => resolvePolicies(raw.policies), new Map<string, Policy>());
  const storeTimeoutMs = positiveDuration(raw.storeTimeout, '2s', 'storeTimeout', problem, collect);
  // 0 would purge a session as it ends, and its next request would get a 401 that cannot say why.
  const endedRetentionMs = positiveDuration(raw.endedRetention, '24h', 'endedRetention', problem, collect);
  const heartbeatRateLimit = resolveHeartbeatRateLimit(raw.heartbeatRateLimit, problem);
  const passivePaths = resolvePassivePaths(raw.passivePaths, problem);
  const cookie = resolveCookie(raw.cookie, problem);
  const webhooks = resolveWebhooks(raw.webhooks, problem);
  const relay = resolveRelay(raw.relay, problem, collect);
  const tokens = resolveTokenConfig(raw.tokens, problem);
  const audit = resolveAudit(raw.audit, problem, collect);

  if (details.length > 0) throw new ValidationError(details);
  return {
    policies,
    storeTimeoutMs,
    endedRetentionMs,
    audit,
    heartbeatRateLimit,
    passivePaths,
    cookie,
    webhooks,
    relay,
    tokens,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(raw: Record<string, unknown>, known: Set<string>, path: string, problem: Problem) {
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      problem(`${path}${key}`, 'unknown_field', `is not a config field (known: ${[...known].join(', ')})`);
    }
  }
}

type Collect = <T>(compute: () => T, fallback: T) => T;

/**
 * A duration that must be longer than 0, or its default when absent. Only an absent field takes the
 * default: `null` is refused like any other non-duration, as in the policies. An unreadable value
 * is reported once; the default stands in for it without a second problem.
 */
function positiveDuration(
  value: unknown,
  otherwise: string,
  field: string,
  problem: Problem,
  collect: Collect,
): number {
  const fallback = parseDuration(otherwise);
  const ms = collect(() => parseDuration(value === undefined ? otherwise : value, field), fallback);
  if (ms === 0) problem(field, 'positive', 'must be longer than 0');
  return ms;
}

// ---- heartbeat rate limit -----------------------------------------------------------------------

const RATE_LIMIT_FIELDS = new Set(['burst', 'perSecond']);

function resolveHeartbeatRateLimit(input: unknown, problem: Problem): VigilConfig['heartbeatRateLimit'] {
  const fallback = { burst: 10, perSecond: 1 };
  if (input === undefined) return fallback;
  if (!isObject(input)) {
    problem('heartbeatRateLimit', 'type', 'must be an object {burst, perSecond}');
    return fallback;
  }
  unknownFields(input, RATE_LIMIT_FIELDS, 'heartbeatRateLimit.', problem);
  const { burst = fallback.burst, perSecond = fallback.perSecond } = input;
  if (!Number.isSafeInteger(burst) || (burst as number) < 1) {
    problem('heartbeatRateLimit.burst', 'positive_integer', 'must be an integer of at least 1');
  }
  if (typeof perSecond !== 'number' || !(perSecond > 0) || !Number.isFinite(perSecond)) {
    problem('heartbeatRateLimit.perSecond', 'positive', 'must be a number above 0');
  }
  return { burst: burst as number, perSecond: perSecond as number };
}

// ---- audit --------------------------------------------------------------------------------------

const AUDIT_FIELDS = new Set(['retention']);
const DEFAULT_AUDIT_RETENTION = '30d';

function resolveAudit(input: unknown, problem: Problem, collect: Collect): VigilConfig['audit'] {
  const fallback = { retentionMs: parseDuration(DEFAULT_AUDIT_RETENTION) };
  if (input === undefined) return fallback;
  if (!isObject(input)) {
    problem('audit', 'type', 'must be an object {retention}');
    return fallback;
  }
  unknownFields(input, AUDIT_FIELDS, 'audit.', problem);
  return {
    retentionMs: positiveDuration(
      input.retention,
      DEFAULT_AUDIT_RETENTION,
      'audit.retention',
      problem,
      collect,
    ),
  };
}

// ---- cookie -------------------------------------------------------------------------------------

const COOKIE_FIELDS = new Set(['enabled', 'name', 'secure', 'sameSite', 'allowedOrigins']);
/** An RFC 6265 cookie name (a token), kept short. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;
const SAME_SITE: readonly SameSite[] = ['lax', 'strict', 'none'];

function resolveCookie(input: unknown, problem: Problem): CookieConfig {
  const fallback: CookieConfig = {
    enabled: false,
    name: '__Host-vigil',
    secure: true,
    sameSite: 'lax',
    allowedOrigins: [],
  };
  if (input === undefined) return fallback;
  if (!isObject(input)) {
    problem('cookie', 'type', 'must be an object {enabled, name, secure, sameSite, allowedOrigins}');
    return fallback;
  }
  unknownFields(input, COOKIE_FIELDS, 'cookie.', problem);
  const boolean = (key: string, value: unknown, otherwise: boolean): boolean => {
    if (value === undefined) return otherwise;
    if (typeof value === 'boolean') return value;
    problem(`cookie.${key}`, 'type', 'must be true or false');
    return otherwise;
  };
  const enabled = boolean('enabled', input.enabled, false);
  const secure = boolean('secure', input.secure, true);
  let name = secure ? '__Host-vigil' : 'vigil';
  if (input.name !== undefined) {
    if (typeof input.name === 'string' && COOKIE_NAME.test(input.name)) name = input.name;
    else problem('cookie.name', 'cookie_name', 'must be 1–64 characters of an RFC 6265 token');
  }
  if (!secure && /^__(host|secure)-/i.test(name)) {
    problem('cookie.name', 'prefix_needs_secure', 'a __Host- or __Secure- cookie needs secure: true');
  }
  let sameSite: SameSite = 'lax';
  if (input.sameSite !== undefined) {
    if (SAME_SITE.includes(input.sameSite as SameSite)) sameSite = input.sameSite as SameSite;
    else problem('cookie.sameSite', 'enum', `must be one of ${SAME_SITE.join(', ')}`);
  }
  if (sameSite === 'none' && !secure) {
    problem(
      'cookie.sameSite',
      'none_needs_secure',
      "sameSite 'none' needs secure: true (browsers refuse it)",
    );
  }
  const allowedOrigins: string[] = [];
  if (input.allowedOrigins !== undefined) {
    if (!Array.isArray(input.allowedOrigins) || input.allowedOrigins.length > 100) {
      problem('cookie.allowedOrigins', 'type', 'must be an array of at most 100 origins');
    } else {
      input.allowedOrigins.forEach((origin, index) => {
        const normalized = typeof origin === 'string' ? originOf(origin) : null;
        if (normalized === null) {
          problem(
            `cookie.allowedOrigins.${index}`,
            'origin',
            "must be an origin such as 'https://app.example.com' (scheme, host, optional port; no path)",
          );
        } else {
          allowedOrigins.push(normalized);
        }
      });
    }
  }
  return { enabled, name, secure, sameSite, allowedOrigins };
}

/** The serialized origin of `text` if `text` is exactly an http(s) origin, else null. */
function originOf(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  return url.origin === text.toLowerCase().replace(/\/$/, '') ? url.origin : null;
}

// ---- webhooks and relay -------------------------------------------------------------------------

const WEBHOOK_FIELDS = new Set(['url', 'secret', 'events']);
const RELAY_FIELDS = new Set(['url', 'timeout', 'failureThreshold', 'probeInterval']);
const MAX_WEBHOOKS = 20;
const MIN_SECRET_LENGTH = 16;

/** An absolute http(s) URL, or a problem reported at `field` (the value itself is never echoed). */
function httpUrl(value: unknown, field: string, problem: Problem): string | null {
  if (value === undefined) {
    problem(field, 'required', 'is required');
    return null;
  }
  let url: URL | null = null;
  try {
    url = typeof value === 'string' && value.length <= 2048 ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    problem(field, 'url', 'must be an absolute http:// or https:// URL');
    return null;
  }
  return url.href;
}

function resolveWebhooks(input: unknown, problem: Problem): WebhookConfig[] {
  if (input === undefined) return [];
  if (!Array.isArray(input) || input.length > MAX_WEBHOOKS) {
    problem('webhooks', 'type', `must be an array of at most ${MAX_WEBHOOKS} {url, secret, events?}`);
    return [];
  }
  const webhooks: WebhookConfig[] = [];
  input.forEach((entry, index) => {
    const at = `webhooks.${index}`;
    if (!isObject(entry)) {
      problem(at, 'type', 'must be an object {url, secret, events?}');
      return;
    }
    unknownFields(entry, WEBHOOK_FIELDS, `${at}.`, problem);
    const url = httpUrl(entry.url, `${at}.url`, problem);
    const { secret } = entry;
    const secretOk =
      typeof secret === 'string' && secret.length >= MIN_SECRET_LENGTH && secret.length <= 1024;
    if (!secretOk) {
      problem(`${at}.secret`, 'secret', `must be a string of at least ${MIN_SECRET_LENGTH} characters`);
    }
    let events: SessionEventType[] = [...DEFAULT_WEBHOOK_EVENTS];
    if (entry.events !== undefined) {
      if (!Array.isArray(entry.events) || entry.events.length === 0) {
        problem(`${at}.events`, 'type', 'must be a non-empty array of event types');
      } else {
        events = [];
        entry.events.forEach((type, i) => {
          if (EVENT_TYPES.includes(type as SessionEventType)) {
            if (!events.includes(type as SessionEventType)) events.push(type as SessionEventType);
          } else {
            problem(`${at}.events.${i}`, 'enum', `must be one of ${EVENT_TYPES.join(', ')}`);
          }
        });
      }
    }
    if (url !== null && secretOk) webhooks.push({ url, secret: secret as string, events });
  });
  return webhooks;
}

function resolveRelay(input: unknown, problem: Problem, collect: Collect): RelayConfig | null {
  if (input === undefined || input === null) return null;
  if (!isObject(input)) {
    problem('relay', 'type', 'must be an object {url, timeout?, failureThreshold?, probeInterval?}');
    return null;
  }
  unknownFields(input, RELAY_FIELDS, 'relay.', problem);
  const url = httpUrl(input.url, 'relay.url', problem);
  const { timeout = '2s', failureThreshold = 5 } = input;
  const timeoutMs = collect(() => parseDuration(timeout, 'relay.timeout'), 2000);
  const probeIntervalMs = positiveDuration(
    input.probeInterval,
    '30s',
    'relay.probeInterval',
    problem,
    collect,
  );
  if (timeoutMs === 0 || timeoutMs > 60_000) {
    problem('relay.timeout', 'range', 'must be longer than 0 and at most 60s');
  }
  if (!Number.isSafeInteger(failureThreshold) || (failureThreshold as number) < 1) {
    problem('relay.failureThreshold', 'positive_integer', 'must be an integer of at least 1');
  }
  if (url === null) return null;
  return { url, timeoutMs, failureThreshold: failureThreshold as number, probeIntervalMs };
}
