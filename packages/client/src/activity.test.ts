import assert from 'node:assert/strict';
import { it } from 'node:test';
import { watchActivity } from './activity.js';

it('counts pointer, keys, wheel, touch, scroll and focus, and visibility only when visible', () => {
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
  const seen: string[] = [];
  const stop = watchActivity(
    { window, document },
    () => seen.push('activity'),
    () => seen.push('visible'),
  );
  for (const type of ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'scroll', 'focus']) {
    window.dispatchEvent(new Event(type));
  }
  assert.equal(seen.length, 7);
  document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(seen.length, 7, 'becoming hidden is not activity');
  document.visibilityState = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
  assert.deepEqual(seen.at(-1), 'visible');
  stop();
  window.dispatchEvent(new Event('keydown'));
  document.dispatchEvent(new Event('visibilitychange'));
  assert.equal(seen.length, 8, 'nothing after stop');
});

it('listens passively', () => {
  const options: unknown[] = [];
  const window = {
    addEventListener: (_type: string, _listener: unknown, opts: unknown) => options.push(opts),
    removeEventListener: () => {},
  } as unknown as EventTarget;
  watchActivity({ window, document: new EventTarget() }, () => {});
  assert.ok(options.length >= 7);
  assert.ok(options.every((o) => (o as AddEventListenerOptions).passive === true));
});
