import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FakeTime } from '../test/support/fake-time.js';
import { createThrottle } from './throttle.js';

it('sends at once, then at most once per interval, with one trailing send', async () => {
  const time = new FakeTime();
  const sent: number[] = [];
  const throttle = createThrottle(() => sent.push(time.now() - 1_700_000_000_000), 1000, time);
  for (let t = 0; t < 2500; t += 100) {
    throttle.notify();
    await time.advance(100);
  }
  await time.advance(5000);
  assert.deepEqual(sent, [0, 1000, 2000, 3000]);
  throttle.notify();
  assert.equal(sent.length, 5);
  throttle.cancel();
  assert.equal(time.pending, 0);
});
