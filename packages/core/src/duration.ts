import { ValidationError } from './errors.js';

/** A duration as people write it in configs (`500ms`, `30s`, `15m`, `8h`, `30d`, `1h30m`) or in ms. */
export type Duration = string | number;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const PART = /(\d+)(ms|s|m|h|d)/g;

/**
 * Parses a duration strictly: anything that is not a non-negative integer of milliseconds or a
 * sequence of `<integer><unit>` is refused, so a typo fails at start-up and not at 3 a.m.
 */
export function parseDuration(value: unknown, field = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw invalid(field, 'a non-negative integer number of milliseconds');
  }
  if (typeof value !== 'string' || !WHOLE.test(value)) {
    throw invalid(field, "a duration such as '30s', '15m', '8h', '30d' or '1h30m'");
  }
  let total = 0;
  for (const [, amount, unit] of value.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (!Number.isSafeInteger(total)) throw invalid(field, 'a duration small enough to count in ms');
  return total;
}

/** The shortest exact spelling of a duration in ms, for messages and docs (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of ['d', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit];
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return text;
}

function invalid(field: string, expected: string): ValidationError {
  return new ValidationError([{ field, rule: 'duration', message: `must be ${expected}` }]);
}
