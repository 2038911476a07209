// The host test page: a vigil, the warning element, optional frames and a bridge. Configured by the
// JSON in the URL fragment; exposes `window.vigilTest` for the tests to read.
import { createVigil, type VigilOptions } from '@vigil/client';
import { acceptFrameActivity } from '@vigil/client/frame';
import { type PushChannel, pushChannels } from '@vigil/client/push';
import { defineVigilWarning, type VigilWarningElement } from '@vigil/client/warning';

interface Config {
  token: string;
  retry?: VigilOptions['retry'];
  sleepingHeartbeatIntervalMs?: number;
  frames?: string[];
  allow?: string[];
  /** `true`: `pushChannels()` as an app calls it; a list: those channels, best first; absent: no push. */
  push?: true | PushChannel[];
  /** The page's WebSocket constructor throws, as where a policy or an extension blocks sockets. */
  blockWebSocket?: boolean;
}

const config = JSON.parse(decodeURIComponent(location.hash.slice(1))) as Config;
if (config.blockWebSocket) {
  window.WebSocket = function blocked() {
    throw new DOMException('WebSocket is blocked here', 'SecurityError');
  } as unknown as typeof WebSocket;
}
const vigil = createVigil({
  baseUrl: location.origin,
  token: config.token,
  ...(config.push && { push: pushChannels(config.push === true ? {} : { channels: config.push }) }),
  ...(config.retry && { retry: config.retry }),
  ...(config.sleepingHeartbeatIntervalMs !== undefined && {
    sleepingHeartbeatIntervalMs: config.sleepingHeartbeatIntervalMs,
  }),
});
const log: Array<{ type: string; payload: unknown; at: number }> = [];
for (const type of ['warning', 'extended', 'ended', 'heartbeatsDisabled'] as const) {
  vigil.on(type, (payload) => log.push({ type, payload, at: Date.now() }));
}
defineVigilWarning();
(document.querySelector('vigil-warning') as VigilWarningElement).attach(vigil);
const state = document.querySelector('#state') as HTMLElement;
vigil.on('status', (status) => {
  state.textContent = status.state;
});
document.querySelector('#logout')?.addEventListener('click', () => void vigil.logout());
for (const [i, src] of (config.frames ?? []).entries()) {
  const frame = document.createElement('iframe');
  frame.src = src;
  frame.title = `tool ${i + 1}`;
  document.body.append(frame);
}
if (config.allow) acceptFrameActivity(vigil, { origins: config.allow });
Object.assign(window, { vigilTest: { vigil, log } });
void vigil.start();
