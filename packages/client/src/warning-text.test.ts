import assert from 'node:assert/strict';
import { it } from 'node:test';
import { endedMessage, formatCountdown, shouldAnnounce, spokenCountdown } from './warning-text.js';

it('formats the countdown as m:ss, rounding up', () => {
  assert.equal(formatCountdown(125_000), '2:05');
  assert.equal(formatCountdown(59_001), '1:00');
  assert.equal(formatCountdown(0), '0:00');
  assert.equal(formatCountdown(-5), '0:00');
});

it('speaks the countdown in words', () => {
  assert.equal(spokenCountdown(90_000), '1 minute 30 seconds');
  assert.equal(spokenCountdown(120_000), '2 minutes');
  assert.equal(spokenCountdown(1000), '1 second');
});

it('announces every 30 s, then every 10 s in the last half minute, never every second', () => {
  const spoken = Array.from({ length: 120 }, (_, i) => 120 - i).filter(shouldAnnounce);
  assert.deepEqual(spoken, [120, 90, 60, 30, 20, 10]);
});

it('explains how the session ended', () => {
  assert.equal(endedMessage('logout'), 'You have been signed out.');
  assert.match(endedMessage('idle_timeout'), /Your session has ended.*inactive/);
  assert.equal(endedMessage('upstream_rejected'), 'Your session has ended (upstream rejected).');
});
