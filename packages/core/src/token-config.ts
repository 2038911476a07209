/** Token mode's settings (config `tokens`); the lifetimes are per policy (`accessTokenTtl`, `refreshGrace`). */
export interface TokenConfig {
  /** The access tokens' `iss` (default `vigil`); verifiers check it. */
  issuer: string;
  /** The access tokens' `aud`, when set; verifiers check it. */
  audience: string | null;
  /** How new signing keys are made: `ES256` (default) or `EdDSA` (Ed25519). */
  algorithm: 'ES256' | 'EdDSA';
  /**
   * A JWK Set file of private keys to sign with instead of keys kept in the store: the first key
   * signs, every key is published. Read by the server at start; relative to the working directory.
   */
  keysFile: string | null;
}

type Problem = (field: string, rule: string, message: string) => void;

const FIELDS = new Set(['issuer', 'audience', 'algorithm', 'keysFile']);
const ALGORITHMS = ['ES256', 'EdDSA'] as const;
/** Printable, no spaces: these land in every token and every verifier's config. */
const CLAIM_TEXT = /^[\x21-\x7e]{1,256}$/;

export const DEFAULT_TOKEN_CONFIG: TokenConfig = {
  issuer: 'vigil',
  audience: null,
  algorithm: 'ES256',
  keysFile: null,
};

/** Validates `tokens`, reporting each problem with its field; unknown fields are problems too. */
export function resolveTokenConfig(input: unknown, problem: Problem): TokenConfig {
  if (input === undefined) return DEFAULT_TOKEN_CONFIG;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    problem('tokens', 'type', 'must be an object {issuer?, audience?, algorithm?, keysFile?}');
    return DEFAULT_TOKEN_CONFIG;
  }
  const raw = input as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!FIELDS.has(key)) {
      problem(`tokens.${key}`, 'unknown_field', `is not a tokens field (known: ${[...FIELDS].join(', ')})`);
    }
  }
  const text = (field: string, fallback: string | null): string | null => {
    const value = raw[field];
    if (value === undefined) return fallback;
    if (typeof value === 'string' && CLAIM_TEXT.test(value)) return value;
    problem(`tokens.${field}`, 'claim_text', 'must be 1–256 printable characters without spaces');
    return fallback;
  };
  let algorithm: TokenConfig['algorithm'] = DEFAULT_TOKEN_CONFIG.algorithm;
  if (raw.algorithm !== undefined) {
    if (ALGORITHMS.includes(raw.algorithm as TokenConfig['algorithm'])) {
      algorithm = raw.algorithm as TokenConfig['algorithm'];
    } else {
      problem('tokens.algorithm', 'enum', `must be one of ${ALGORITHMS.join(', ')}`);
    }
  }
  let keysFile: string | null = null;
  if (raw.keysFile !== undefined) {
    if (typeof raw.keysFile === 'string' && raw.keysFile.length > 0 && raw.keysFile.length <= 4096) {
      keysFile = raw.keysFile;
    } else {
      problem('tokens.keysFile', 'type', 'must be a file path');
    }
  }
  return {
    issuer: text('issuer', DEFAULT_TOKEN_CONFIG.issuer) ?? DEFAULT_TOKEN_CONFIG.issuer,
    audience: text('audience', null),
    algorithm,
    keysFile,
  };
}
