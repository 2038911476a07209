import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { decodeProtectedHeader } from 'jose';
import { AccessTokenError, type AccessTokenVerifier, createAccessTokenVerifier } from '../src/index.js';
import { API_KEY } from './helpers.js';
import { startTokenVigil, type TokenVigil } from './token-vigil.js';

const CODES = new Set(['token_invalid', 'token_expired', 'session_ended', 'vigil_unavailable']);

let vigil: TokenVigil;
let verifier: AccessTokenVerifier;
let kid: string;
let valid: string;

before(async () => {
  vigil = await startTokenVigil();
  verifier = createAccessTokenVerifier({
    vigilUrl: vigil.url,
    clock: vigil.clock,
    revocation: { apiKey: API_KEY, cacheMs: 1000 },
  });
  valid = (await vigil.issue(await vigil.createSession({ subject: 'alice' }))).accessToken;
  kid = decodeProtectedHeader(valid).kid as string;
  await verifier.verify(valid);
});
after(async () => {
  await vigil.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const segment = fc.oneof(
  fc.base64String().map((s) => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')),
  fc.string(),
  fc.jsonValue().map(b64),
);
/** Headers that get past the first checks: Vigil's algorithms and kid, or close to them. */
const header = (kid: string) =>
  fc
    .record(
      {
        alg: fc.constantFrom('ES256', 'EdDSA', 'none', 'HS256', 'RS256', 'ES384'),
        kid: fc.oneof(fc.constant(kid), fc.string()),
        typ: fc.constantFrom('at+jwt', 'JWT'),
        crit: fc.array(fc.string(), { maxLength: 2 }),
        b64: fc.boolean(),
      },
      { requiredKeys: ['alg'] },
    )
    .map(b64);
const payload = fc
  .record(
    {
      sub: fc.oneof(fc.string(), fc.integer()),
      sid: fc.oneof(fc.string(), fc.constant('A'.repeat(43))),
      policy: fc.oneof(fc.string(), fc.constant(null)),
      iss: fc.constantFrom('vigil', 'other'),
      exp: fc.oneof(fc.integer(), fc.double(), fc.string()),
      iat: fc.oneof(fc.integer(), fc.string()),
      aud: fc.oneof(fc.string(), fc.array(fc.string())),
    },
    { requiredKeys: [] },
  )
  .map(b64);

const token = (kid: string, valid: string) =>
  fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
    fc.tuple(header(kid), payload, segment).map((parts) => parts.join('.')),
    // A real token, one character changed, dropped or added.
    fc
      .tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1 }), fc.constantFrom('set', 'drop', 'add'))
      .map(([at, char, how]) => {
        const i = at % valid.length;
        if (how === 'drop') return valid.slice(0, i) + valid.slice(i + 1);
        if (how === 'add') return valid.slice(0, i) + char + valid.slice(i);
        return valid.slice(0, i) + char + valid.slice(i + 1);
      }),
  );

test('whatever string is presented, verify answers the claims or rejects with an AccessTokenError', async () => {
  let refusals = 0;
  await fc.assert(
    fc.asyncProperty(token(kid, valid), async (candidate) => {
      try {
        const claims = await verifier.verify(candidate);
        // Only the genuine token (or an equivalent encoding of it) may pass.
        assert.equal(claims.sub, 'alice');
      } catch (error) {
        assert.ok(error instanceof AccessTokenError, `not an AccessTokenError: ${String(error)}`);
        assert.ok(CODES.has(error.code), error.code);
        assert.ok(error.status === 401 || error.status === 503);
        assert.ok(!error.message.includes(candidate) || candidate.length < 8, 'the token is not echoed');
        refusals++;
      }
    }),
    { numRuns: 300 },
  );
  assert.ok(refusals > 250, `${refusals} refusals`);
});
