// One oracle run end to end: a fresh store of the given kind, a real `vigil serve` on it with the
// oracle's policies, the simulated users for the given time, and the report. Shared by the short
// runs in `npm test` and the long ones (`npm run oracle`).
import { API_KEY, type RunningVigil, startVigil, tempDir, writeJson } from '../helpers.js';
import { type Scope, type StoreKind, storeSpecFor } from '../support/stores.js';
import { ORACLE_POLICIES, oracleConfig } from './policies.js';
import type { JudgeOptions } from './session-truth.js';
import { type OracleReport, runOracle } from './simulator.js';

export interface OracleRunOptions {
  users: number;
  /** How answers are judged; by default a 503 `store_unavailable` is allowed (see JudgeOptions). */
  judge?: JudgeOptions;
  durationMs: number;
  seed?: number;
  onProgress?: (report: OracleReport) => void;
}

export async function startOracleServer(scope: Scope, kind: StoreKind): Promise<RunningVigil> {
  return startOracleServerOn(scope, await storeSpecFor(scope, kind));
}

/** `vigil serve` with the oracle's policies on the store `spec`. */
export function startOracleServerOn(scope: Scope, spec: string): Promise<RunningVigil> {
  const config = writeJson(tempDir(scope), 'vigil.json', oracleConfig());
  return startVigil(scope, ['--store', spec, '--config', config]);
}

export async function oracleOnStore(
  scope: Scope,
  kind: StoreKind,
  options: OracleRunOptions,
): Promise<{ report: OracleReport; server: RunningVigil }> {
  const server = await startOracleServer(scope, kind);
  const report = await runOracle({
    url: server.url,
    apiKey: API_KEY,
    policies: ORACLE_POLICIES,
    users: options.users,
    durationMs: options.durationMs,
    seed: options.seed ?? 1,
    judge: options.judge ?? { tolerateUnavailable: true },
    ...(options.onProgress !== undefined && { onProgress: options.onProgress }),
  });
  return { report, server };
}
