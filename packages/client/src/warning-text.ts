/** `m:ss` for the visible countdown. */
export function formatCountdown(msLeft: number): string {
  const seconds = Math.max(0, Math.ceil(msLeft / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/** Words for screen readers: "1 minute 30 seconds". */
export function spokenCountdown(msLeft: number): string {
  const seconds = Math.max(0, Math.ceil(msLeft / 1000));
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const parts: string[] = [];
  if (minutes > 0) parts.push(`${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`);
  if (rest > 0 || minutes === 0) parts.push(`${rest} ${rest === 1 ? 'second' : 'seconds'}`);
  return parts.join(' ');
}

/**
 * Whether the live region should speak at this many whole seconds left: every 30 s, then every 10 s
 * in the last half minute. A screen reader that read out every second would drown the page.
 */
export function shouldAnnounce(secondsLeft: number): boolean {
  if (secondsLeft <= 0) return false;
  return secondsLeft <= 30 ? secondsLeft % 10 === 0 : secondsLeft % 30 === 0;
}

const ENDED: Record<string, string> = {
  logout: 'You have been signed out.',
  idle_timeout: 'Your session has ended because you were inactive for too long.',
  absolute_timeout: 'Your session has ended because it reached its maximum length.',
  revoked: 'Your session has ended: it was revoked.',
  evicted: 'Your session has ended because you signed in on another device.',
  unauthenticated: 'Your session has ended: it is no longer recognised.',
};

/** What the page says once the session is over, with the reason in words. */
export function endedMessage(reason: string): string {
  return ENDED[reason] ?? `Your session has ended (${reason.replaceAll('_', ' ')}).`;
}
