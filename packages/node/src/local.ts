import {
  boundedStore,
  type Clock,
  type ConfigInput,
  endEvent,
  looksLikeSessionToken,
  type Policy,
  resolveConfig,
  SessionEndedError,
  type SessionEvents,
  type SessionLookup,
  type Store,
  sessionIdFor,
  sessionStatus,
  systemClock,
  touchParams,
  ValidationError,
  type VigilConfig,
  VigilError,
} from '@vigil/core';
import type { SessionCheck, SessionChecker, VigilSession } from './session.js';

export interface LocalCheckerOptions {
  /** The store the Vigil server uses too (SQLite file, Redis, PostgreSQL…); wrapped with `boundedStore`. */
  store: Store;
  /** The same config as the server's: `resolveConfig(…)`'s result, or the raw config object. */
  config: VigilConfig | ConfigInput;
  /** Default `systemClock`. */
  clock?: Clock;
  /** Where `session.expired` / `session.revoked` (and `session.extended`) go when this check notices them. */
  events?: SessionEvents;
  /** Session ids whose policy name is remembered, to save a read per request (default 10 000). */
  policyCacheSize?: number;
}

const KNOWN = new Set(['store', 'config', 'clock', 'events', 'policyCacheSize']);
const STORE_METHODS = ['get', 'touch', 'create', 'end'] as const;

/**
 * Checks sessions against a store in this process, with the server's lifecycle: each request is an
 * active touch (a passive one a sleeping touch), so a deadline is enforced on every request and only
 * active requests extend. Store calls are bounded by the config's `storeTimeout`: an outage answers
 * `store_unavailable`, never `unauthenticated`.
 */
export function localChecker(options: LocalCheckerOptions): SessionChecker {
  const caller = 'localChecker';
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${caller}: options are required ({ store, config, clock?, events? })`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw new TypeError(`${caller}: unknown option '${key}' (known: ${[...KNOWN].join(', ')})`);
  }
  const raw = options.store as unknown as Partial<Record<string, unknown>> | undefined;
  if (
    typeof raw !== 'object' ||
    raw === null ||
    STORE_METHODS.some((name) => typeof raw[name] !== 'function')
  ) {
    throw new TypeError(`${caller}: options.store must be a Store (e.g. new MemoryStore())`);
  }
  if (typeof options.config !== 'object' || options.config === null) {
    throw new TypeError(`${caller}: options.config must be a config (resolveConfig(…) or its input)`);
  }
  const config = resolvedConfig(caller, options.config);
  const clock = options.clock ?? systemClock;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new TypeError(`${caller}: options.clock must be a Clock ({ now(): number })`);
  }
  const events = options.events;
  if (
    events !== undefined &&
    (typeof events !== 'object' || events === null || typeof events.emit !== 'function')
  ) {
    throw new TypeError(`${caller}: options.events must be a SessionEvents`);
  }
  const cacheSize = options.policyCacheSize ?? 10_000;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw new TypeError(`${caller}: options.policyCacheSize must be a non-negative integer`);
  }
  const fallback = config.policies.get('default');
  if (fallback === undefined) throw new TypeError(`${caller}: options.config has no 'default' policy`);
  const store = boundedStore(options.store, { timeoutMs: config.storeTimeoutMs, label: 'vigil store' });

  /** id → policy name. A session's policy never changes; a store's `touch` needs its numbers first. */
  const policyNames = new Map<string, string>();

  function policyFor(name: string): Policy {
    return config.policies.get(name) ?? (fallback as Policy);
  }

  function remember(id: string, name: string): void {
    if (cacheSize === 0) return;
    if (policyNames.size >= cacheSize) {
      const oldest = policyNames.keys().next();
      if (!oldest.done) policyNames.delete(oldest.value);
    }
    policyNames.set(id, name);
  }

  function refuse(id: string, lookup: Exclude<SessionLookup, { kind: 'live' }>, now: number): never {
    policyNames.delete(id);
    if (lookup.kind === 'unknown') throw new VigilError('unauthenticated', 'Unknown session token.');
    if (lookup.endedNow) events?.emit(endEvent(lookup.record, now));
    const { reason, endedAt } = lookup.record;
    if (reason === null || endedAt === null) throw new Error('store answered ended without reason');
    throw new SessionEndedError(reason, endedAt);
  }

  function isPassive(passive: boolean, path: string | undefined): boolean {
    return passive || (path !== undefined && config.passivePaths.matches(path));
  }

  async function checkLocally({ token, passive, path }: SessionCheck): Promise<VigilSession> {
    if (!looksLikeSessionToken(token)) throw new VigilError('unauthenticated', 'Unknown session token.');
    const id = sessionIdFor(token);
    const now = clock.now();
    let policyName = policyNames.get(id);
    if (policyName === undefined) {
      const lookup = await store.get(id, now);
      if (lookup.kind !== 'live') refuse(id, lookup, now);
      policyName = lookup.record.policy;
      remember(id, policyName);
    }
    const result = await store.touch(
      id,
      touchParams(policyFor(policyName), isPassive(passive, path) ? 'sleeping' : 'active', now),
    );
    if (result.kind !== 'live') refuse(id, result, now);
    if (result.extendedFromWarning)
      events?.emit({ type: 'session.extended', session: result.record, at: now });
    const { record } = result;
    return {
      sessionId: id,
      subject: record.subject,
      policy: record.policy,
      status: sessionStatus(record, policyFor(record.policy), now),
    };
  }

  return { check: checkLocally };
}

/** A resolved config as is; a raw one resolved here, its problems reported as one `TypeError`. */
function resolvedConfig(caller: string, config: VigilConfig | ConfigInput): VigilConfig {
  if (config.policies instanceof Map) return config as VigilConfig;
  try {
    return resolveConfig(config);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const problems = error.details.map((detail) => `${detail.field} ${detail.message}`);
    throw new TypeError(`${caller}: options.config is not a valid config: ${problems.join('; ')}`, {
      cause: error,
    });
  }
}
