// The malformed-request drill end to end: a real `vigil serve`, the oracle's simulated users as the
// good traffic, and the noise aimed at the same server (and at those users' live tokens) meanwhile.
import { API_KEY, call, type RunningVigil } from '../helpers.js';
import { startOracleServer } from '../oracle/on-store.js';
import { ORACLE_POLICIES } from '../oracle/policies.js';
import { type OracleReport, runOracle } from '../oracle/simulator.js';
import type { Scope, StoreKind } from '../support/stores.js';
import { type NoiseReport, sendNoise } from './malformed.js';

export interface NoiseDrillOptions {
  users: number;
  durationMs: number;
  noise: number;
  seed?: number;
}

export interface NoiseDrillResult {
  oracle: OracleReport;
  noise: NoiseReport;
  server: RunningVigil;
  /** Sessions of the subject that only malformed creations named (must be none). */
  noiseSessions: number;
}

const RECENT_TOKENS = 2000;

export async function noiseDrill(
  scope: Scope,
  kind: StoreKind,
  options: NoiseDrillOptions,
): Promise<NoiseDrillResult> {
  const server = await startOracleServer(scope, kind);
  const tokens: string[] = [];
  const good = runOracle({
    url: server.url,
    apiKey: API_KEY,
    policies: ORACLE_POLICIES,
    users: options.users,
    durationMs: options.durationMs,
    seed: options.seed ?? 3,
    judge: { tolerateUnavailable: true },
    onSessionCreated: (token) => {
      tokens.push(token);
      if (tokens.length > RECENT_TOKENS) tokens.splice(0, tokens.length - RECENT_TOKENS);
    },
  });
  const noise = sendNoise({
    url: server.url,
    tokens: () => tokens,
    count: options.noise,
    concurrency: 6,
    stalled: 20,
  });
  const [oracle, noiseReport] = await Promise.all([good, noise]);
  const listed = await call(server.url, 'GET', '/v1/sessions?subject=noise', { auth: API_KEY });
  return { oracle, noise: noiseReport, server, noiseSessions: listed.body?.sessions?.length ?? -1 };
}
