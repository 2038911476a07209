import { parseArgs } from 'node:util';
import { formatDuration, parseDuration, tokenStoreOf, ValidationError } from '@vigil/core';
import { loadConfig } from '../config-file.js';
import { CliError, type Io } from '../io.js';
import { openStore, parseStoreSpec, redactSpec } from '../store-spec.js';
import { utc } from '../table.js';
import { KEYS_USAGE } from '../usage.js';

/**
 * Between a rotation and the new key's first signature. Every node re-reads the store's keys every
 * 30 s and publishes the new key at once, so by then each node and each verifier's JWKS has it: no
 * access token is ever signed by a key a verifier has not seen.
 */
const DEFAULT_ACTIVATE_IN = '2m';
const MIN_ACTIVATE_IN_MS = 30_000;

/** `vigil keys rotate --store SPEC`: adds the next signing key to the store (token mode). */
export async function keys(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      store: { type: 'string' },
      config: { type: 'string' },
      'activate-in': { type: 'string', default: DEFAULT_ACTIVATE_IN },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(`${KEYS_USAGE}\n`);
    return 0;
  }
  const usage = (problem: string) => new CliError(`${problem}\n\n${KEYS_USAGE}`, 2);
  const [action, extra] = positionals;
  if (action !== 'rotate')
    throw usage(action === undefined ? 'which one: rotate?' : `unknown keys command "${action}"`);
  if (extra !== undefined) throw usage(`unexpected argument "${extra}"`);
  if (values.store === undefined) throw usage('--store is required');
  const activateInMs = activationDelay(values['activate-in']);

  const config = await loadConfig(values.config, io.cwd);
  if (config.tokens.keysFile !== null) {
    throw new CliError(
      `the signing keys are given in tokens.keysFile (${config.tokens.keysFile}), not kept in the store: rotate by adding the new key first in that file`,
    );
  }
  const spec = parseStoreSpec(values.store, io.cwd);
  // Another process's memory store is out of reach: a rotation there could change nothing.
  if (spec.kind === 'memory')
    throw usage('the memory store lives inside `vigil serve`: nothing to rotate here');
  const store = await openStore(spec);
  try {
    const tokens = tokenStoreOf(store);
    if (tokens === null)
      throw new CliError(`${redactSpec(values.store)} keeps no signing keys (no token mode)`);
    const { rotateSigningKey } = await import('@vigil/server');
    const key = await rotateSigningKey(tokens, config.tokens.algorithm, Date.now(), activateInMs);
    const activatesAt = new Date(key.activatesAt).toISOString();
    io.stdout(
      values.json
        ? `${JSON.stringify({ generation: key.generation, kid: key.kid, alg: key.alg, activatesAt })}\n`
        : `Added signing key ${key.generation} (${key.alg}, kid ${key.kid}): published now, signing from ${utc(activatesAt)} UTC.\n` +
            'The key it replaces stays published until the last access token it signed has expired.\n',
    );
    return 0;
  } finally {
    await store.close().catch(() => {});
  }
}

function activationDelay(text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text, '--activate-in');
  } catch (error) {
    if (error instanceof ValidationError)
      throw new CliError(`--activate-in: ${error.details[0]?.message ?? error.message}`, 2);
    throw error;
  }
  if (ms < MIN_ACTIVATE_IN_MS) {
    // Sooner, a node that has not re-read the store yet would still sign with the old key while
    // another signs with the new one that some verifiers have not fetched: refused tokens.
    throw new CliError(
      `--activate-in must be at least ${formatDuration(MIN_ACTIVATE_IN_MS)} (how often every node re-reads the keys)`,
      2,
    );
  }
  return ms;
}
