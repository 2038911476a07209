import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeTime } from '../test/support/fake-time.js';
import { acceptFrameActivity, reportActivityToHost } from './frame-bridge.js';

const message = (origin: string, data: unknown) => new MessageEvent('message', { origin, data });

describe('host side', () => {
  it('accepts activity only from allowed origins, in the exact small shape, rate limited', async () => {
    const time = new FakeTime();
    const window = new EventTarget();
    let count = 0;
    const off = acceptFrameActivity(
      { reportActivity: () => count++ },
      { origins: ['https://tool.example'], minIntervalMs: 500, window, clock: time },
    );
    const ok = { vigil: 'activity', v: 1 };
    window.dispatchEvent(message('https://evil.example', ok));
    window.dispatchEvent(message('https://tool.example.evil', ok));
    window.dispatchEvent(
      message('https://tool.example', { vigil: 'activity', v: 1, extra: 'x'.repeat(10_000) }),
    );
    window.dispatchEvent(message('https://tool.example', 'activity'));
    assert.equal(count, 0);
    window.dispatchEvent(message('https://tool.example', ok));
    window.dispatchEvent(message('https://tool.example', ok));
    assert.equal(count, 1, 'the second one came too soon');
    await time.advance(500);
    window.dispatchEvent(message('https://tool.example', ok));
    assert.equal(count, 2);
    off();
    await time.advance(500);
    window.dispatchEvent(message('https://tool.example', ok));
    assert.equal(count, 2);
  });
});

describe('frame side', () => {
  it('posts throttled activity to the host origin only', async () => {
    const time = new FakeTime();
    const window = new EventTarget();
    const posted: Array<[unknown, string]> = [];
    const stop = reportActivityToHost({
      hostOrigin: 'https://app.example',
      intervalMs: 1000,
      host: { postMessage: (m, origin) => posted.push([m, origin]) },
      activityTargets: { window, document: new EventTarget() },
      timers: time,
    });
    for (let i = 0; i < 30; i++) {
      window.dispatchEvent(new Event('keydown'));
      await time.advance(100);
    }
    await time.advance(2000);
    assert.deepEqual(posted[0], [{ vigil: 'activity', v: 1 }, 'https://app.example']);
    assert.equal(posted.length, 4);
    stop();
    window.dispatchEvent(new Event('keydown'));
    assert.equal(posted.length, 4);
  });
});
