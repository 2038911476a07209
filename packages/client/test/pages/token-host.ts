// The token-mode test page: an app that gets its API's access tokens from token mode and runs the SDK
// (with the warning element) on token mode's transport. Configured by the JSON in the URL fragment;
// exposes `window.tokenTest` for the tests.
import { createVigil } from '@vigil/client';
import { createTokenMode, TokenRefreshError } from '@vigil/client/token';
import { defineVigilWarning, type VigilWarningElement } from '@vigil/client/warning';
import type { TokenPageConfig } from '../support/token-browser.js';

const config = JSON.parse(decodeURIComponent(location.hash.slice(1))) as TokenPageConfig;
const refreshAfterMs = config.refreshAfterMs;
const tokenMode = createTokenMode({
  baseUrl: location.origin,
  ...(config.refreshToken !== undefined && { refreshToken: config.refreshToken }),
  ...(refreshAfterMs !== undefined && { refreshAfter: () => refreshAfterMs }),
  ...(config.locks === false && { tabs: { locks: null } }),
});
const vigil = createVigil({ baseUrl: location.origin, transport: tokenMode.transport });
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

async function token(): Promise<{ token: string } | { error: unknown }> {
  try {
    return { token: await tokenMode.accessToken() };
  } catch (error) {
    if (error instanceof TokenRefreshError) return { error: error.outcome };
    throw error;
  }
}

/** The app calling its own API with the access token, as any page of it would. */
async function api(): Promise<{ status: number; body: unknown; token: string }> {
  const accessToken = await tokenMode.accessToken();
  const response = await fetch('/api/me', { headers: { authorization: `Bearer ${accessToken}` } });
  return { status: response.status, body: await response.json(), token: accessToken };
}

Object.assign(window, { tokenTest: { vigil, tokenMode, log, token, api } });
void vigil.start();
