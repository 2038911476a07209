import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createEmitter } from './events.js';

it('delivers to listeners until their off-switch is used', () => {
  const emitter = createEmitter<{ tick: number }>();
  const seen: number[] = [];
  const off = emitter.on('tick', (n) => seen.push(n));
  emitter.on('tick', (n) => seen.push(n * 10));
  emitter.emit('tick', 1);
  off();
  emitter.emit('tick', 2);
  assert.deepEqual(seen, [1, 10, 20]);
});

it('keeps delivering when a listener throws, and reports the error asynchronously', () => {
  const emitter = createEmitter<{ tick: number }>();
  const seen: number[] = [];
  emitter.on('tick', () => {
    throw new Error('listener bug');
  });
  emitter.on('tick', (n) => seen.push(n));
  const queued: Array<() => void> = [];
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (callback) => queued.push(callback);
  try {
    emitter.emit('tick', 1);
  } finally {
    globalThis.queueMicrotask = original;
  }
  assert.deepEqual(seen, [1]);
  assert.equal(queued.length, 1);
  assert.throws(() => queued[0]?.(), /listener bug/);
});

it('lets a listener unsubscribe itself while being called', () => {
  const emitter = createEmitter<{ tick: number }>();
  const seen: string[] = [];
  const off = emitter.on('tick', () => {
    seen.push('once');
    off();
  });
  emitter.on('tick', () => seen.push('always'));
  emitter.emit('tick', 1);
  emitter.emit('tick', 2);
  assert.deepEqual(seen, ['once', 'always', 'always']);
});
