// The short-timeout policies the oracle runs against: written once here, both as the config `vigil
// serve` reads and as the numbers the oracle judges by (its own, from DESIGN, not from Vigil's code).
import type { PolicyTimes } from './session-truth.js';

export const ORACLE_POLICIES: readonly PolicyTimes[] = [
  // Coarse coalescing (the most a 3 s idle timeout allows: a tenth), so that the allowance matters.
  {
    name: 'default',
    idleMs: 3000,
    absoluteMs: 10_000,
    warnBeforeMs: 1000,
    heartbeatIntervalMs: 1000,
    granularityMs: 300,
  },
  // Everything else left to the defaults: warning a quarter of idle, heartbeat a third, coalescing 1%.
  {
    name: 'short',
    idleMs: 2000,
    absoluteMs: 8000,
    warnBeforeMs: 500,
    heartbeatIntervalMs: 666,
    granularityMs: 20,
  },
];

/** The config file for `vigil serve`; the rate limit is raised: the oracle judges deadlines, not 429s. */
export function oracleConfig(extra: object = {}): object {
  return {
    policies: {
      default: {
        idleTimeout: '3s',
        absoluteTimeout: '10s',
        warnBefore: '1s',
        heartbeatInterval: '1s',
        touchGranularity: '300ms',
      },
      short: { idleTimeout: '2s', absoluteTimeout: '8s' },
    },
    heartbeatRateLimit: { burst: 1000, perSecond: 1000 },
    ...extra,
  };
}
