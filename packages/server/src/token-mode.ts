import { boundedTokenStore, type Clock, type TokenStore, type VigilConfig } from '@vigil/core';
import type { FastifyInstance } from 'fastify';
import { apiKeyScope } from './auth.js';
import { TokenBuckets } from './rate-limit.js';
import { backendTokenRoutes, tokenRoutes } from './routes/tokens.js';
import type { SessionService } from './sessions-service.js';
import { KeyRing, readKeysFile } from './token-keys.js';
import { TokenService } from './token-service.js';

export interface TokenModeOptions {
  /** Where refresh tokens and signing keys live. Default: the session store's own `tokenStore()`. */
  store?: TokenStore;
  /** How often each node re-reads the store's signing keys, in ms (a rotation reaches it this late). Default 30 000. */
  keyReloadMs?: number;
  /** How often expired refresh-token families are purged, in ms, while the sweeper runs. Default 60 000. */
  purgeIntervalMs?: number;
}

export interface TokenModeDeps {
  store: TokenStore;
  service: SessionService;
  config: VigilConfig;
  clock: Clock;
  apiKey: string;
  /** Whether background work (purging) runs: as the sweeper does. */
  background: boolean;
}

/**
 * Token mode's routes and upkeep, on a store that keeps its state: `POST /v1/token` (API key),
 * `POST /v1/token/refresh`, `DELETE /v1/token` and `GET /.well-known/jwks.json`. Keys from
 * `tokens.keysFile` are read (and checked) here, so a bad file stops the start-up.
 */
export async function registerTokenMode(
  app: FastifyInstance,
  deps: TokenModeDeps,
  options: TokenModeOptions = {},
): Promise<void> {
  const { config, clock, service } = deps;
  const store = boundedTokenStore(deps.store, { timeoutMs: config.storeTimeoutMs, label: 'token store' });
  const log = app.log.child({ component: 'tokens' });
  const keys = new KeyRing({
    store,
    configured: config.tokens.keysFile === null ? null : await readKeysFile(config.tokens.keysFile),
    algorithm: config.tokens.algorithm,
    maxTokenTtlMs: Math.max(...[...config.policies.values()].map((policy) => policy.accessTokenTtlMs)),
    ...(options.keyReloadMs !== undefined && { reloadMs: options.keyReloadMs }),
    onReloadError: (error) =>
      log.warn({ err: error }, 'signing keys not re-read; the loaded ones keep serving'),
  });
  const tokens = new TokenService({
    service,
    tokens: store,
    keys,
    config: config.tokens,
    endedRetentionMs: config.endedRetentionMs,
    limiter: new TokenBuckets(config.heartbeatRateLimit),
    clock,
  });
  await app.register(apiKeyScope(deps.apiKey, backendTokenRoutes, { tokens }));
  await app.register(tokenRoutes, { tokens, keys, cookie: config.cookie, now: () => clock.now() });

  if (!deps.background) return;
  const intervalMs = options.purgeIntervalMs ?? 60_000;
  const batch = 1000;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const purge = async () => {
    try {
      let purged = batch;
      while (purged === batch && !closed) purged = await store.purgeExpiredFamilies(clock.now(), batch);
    } catch (error) {
      log.warn({ err: error }, 'expired refresh-token families not purged; the next round retries');
    }
    if (!closed) timer = setTimeout(purge, intervalMs).unref();
  };
  app.addHook('onReady', async () => {
    timer = setTimeout(purge, intervalMs).unref();
  });
  app.addHook('onClose', async () => {
    closed = true;
    clearTimeout(timer);
  });
}
