import type { VigilEvents } from '../../src/types.js';
import { createVigil, type VigilOptions } from '../../src/vigil.js';
import { FakeServer } from './fake-server.js';
import { FakeTime } from './fake-time.js';

/** A vigil on fake time, talking to a fake server, with its own window and document to poke. */
export function harness(
  options: Partial<VigilOptions> = {},
  configure?: (server: FakeServer) => void,
  shared?: { time: FakeTime; server: FakeServer },
) {
  const time = shared?.time ?? new FakeTime();
  const server = shared?.server ?? new FakeServer(time);
  configure?.(server);
  const window = new EventTarget();
  const document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const vigil = createVigil({
    baseUrl: 'https://vigil.test/',
    token: 'token-1',
    clock: time,
    timers: time,
    fetch: server.fetch,
    tabs: false,
    activityTargets: { window, document },
    random: () => 0.5,
    ...options,
  });
  const events: Array<{ type: keyof VigilEvents; payload: unknown; at: number }> = [];
  for (const type of ['warning', 'extended', 'ended', 'heartbeatsDisabled'] as const) {
    vigil.on(type, (payload) => events.push({ type, payload, at: time.now() }));
  }
  const start = time.now();
  return {
    time,
    server,
    vigil,
    window,
    document,
    events,
    /** ms since the harness was made. */
    elapsed: () => time.now() - start,
    of: (type: keyof VigilEvents) => events.filter((e) => e.type === type),
    act: (type = 'pointermove') => window.dispatchEvent(new Event(type)),
    /** Activity every `everyMs` for `forMs`. */
    async work(forMs: number, everyMs = 500) {
      for (let t = 0; t < forMs; t += everyMs) {
        window.dispatchEvent(new Event('keydown'));
        await time.advance(everyMs);
      }
    },
  };
}
