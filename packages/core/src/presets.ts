import type { PolicyInput } from './policy.js';

/**
 * Bounds that a policy built on a compliance preset must stay within. Overriding a preset with a
 * looser value would silently break the standard it names, so validation refuses it.
 */
export interface PresetLimits {
  minIdleTimeout?: string;
  maxIdleTimeout?: string;
  minAbsoluteTimeout?: string;
  maxAbsoluteTimeout?: string;
}

export interface Preset {
  description: string;
  policy: PolicyInput;
  limits: PresetLimits;
}

/**
 * Ready-made policies from the standards auditors ask about.
 * - NIST SP 800-63B rev 4, reauthentication: AAL1 overall ≤ 30 days (no inactivity limit required);
 *   AAL2 overall ≤ 24 h and inactivity ≤ 1 h; AAL3 overall ≤ 12 h and inactivity ≤ 15 min.
 * - OWASP Session Management Cheat Sheet: idle 2–5 min for high-value applications, 15–30 min
 *   for low-risk ones, absolute 4–8 h for an office day.
 * Defaults sit at the permissive end of each range; tighten them by extending the preset.
 * Each preset states its warning too, so that a change to Vigil's general defaults cannot move a
 * preset away from the values its README table promises (a test compares the two).
 */
export const PRESETS = {
  'nist-aal1': {
    description: 'NIST SP 800-63B rev 4 AAL1: reauthenticate at least every 30 days.',
    policy: { idleTimeout: '30d', absoluteTimeout: '30d', warnBefore: '5m' },
    limits: { maxAbsoluteTimeout: '30d' },
  },
  'nist-aal2': {
    description: 'NIST SP 800-63B rev 4 AAL2: overall ≤ 24 h, inactivity ≤ 1 h.',
    policy: { idleTimeout: '1h', absoluteTimeout: '24h', warnBefore: '2m' },
    limits: { maxIdleTimeout: '1h', maxAbsoluteTimeout: '24h' },
  },
  'nist-aal3': {
    description: 'NIST SP 800-63B rev 4 AAL3: overall ≤ 12 h, inactivity ≤ 15 min.',
    policy: { idleTimeout: '15m', absoluteTimeout: '12h', warnBefore: '2m' },
    limits: { maxIdleTimeout: '15m', maxAbsoluteTimeout: '12h' },
  },
  'owasp-high-value': {
    description: 'OWASP, high-value application: idle 2–5 min.',
    policy: { idleTimeout: '5m', absoluteTimeout: '4h', warnBefore: '1m' },
    limits: { minIdleTimeout: '2m', maxIdleTimeout: '5m' },
  },
  'owasp-low-risk': {
    description: 'OWASP, low-risk application: idle 15–30 min, absolute 4–8 h.',
    policy: { idleTimeout: '30m', absoluteTimeout: '8h', warnBefore: '2m' },
    limits: {
      minIdleTimeout: '15m',
      maxIdleTimeout: '30m',
      minAbsoluteTimeout: '4h',
      maxAbsoluteTimeout: '8h',
    },
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}
