import { createSession } from '../lifecycle.js';
import { resolvePolicy } from '../policy.js';
import type { SessionRecord } from '../session.js';
import { newSessionToken, sessionIdFor } from '../tokens.js';

/** When the conformance histories begin; `newRecord` creates sessions at it by default. */
export const T0 = Date.UTC(2026, 0, 1, 12);

/** idle 60 s, absolute 10 min, warning 10 s before, no coalescing unless a test asks for it. */
export const conformancePolicy = resolvePolicy('default', {
  idleTimeout: '60s',
  absoluteTimeout: '10m',
  warnBefore: '10s',
  touchGranularity: 0,
});

export function newRecord(subject = 'alice', now = T0, policy = conformancePolicy): SessionRecord {
  return createSession({
    id: sessionIdFor(newSessionToken()),
    subject,
    policy,
    attributes: { tenant: 't1' },
    now,
  });
}
