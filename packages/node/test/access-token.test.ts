import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import {
  type AccessTokenErrorCode,
  type AccessTokenVerifierOptions,
  createAccessTokenVerifier,
  isAccessTokenError,
} from '../src/index.js';
import { API_KEY } from './helpers.js';
import { claimsAt, startTokenVigil, type TokenVigil } from './token-vigil.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** Asserts that `promise` rejects with an `AccessTokenError` of `code`; returns it. */
async function refused(promise: Promise<unknown>, code: AccessTokenErrorCode, label: string = code) {
  try {
    await promise;
  } catch (error) {
    assert.ok(isAccessTokenError(error), `${label}: expected AccessTokenError, got ${String(error)}`);
    assert.equal(error.code, code, `${label}: ${error.message}`);
    return error;
  }
  assert.fail(`${label}: expected a refusal (${code}), got an acceptance`);
}

function flip(part: string, index: number): string {
  const chars = part.split('');
  chars[index] = chars[index] === 'A' ? 'B' : 'A';
  return chars.join('');
}

describe('createAccessTokenVerifier against a real Vigil server (JWKS over HTTP)', () => {
  let vigil: TokenVigil;
  before(async () => {
    vigil = await startTokenVigil();
  });
  after(async () => {
    await vigil.close();
  });
  const verifier = (options: Partial<AccessTokenVerifierOptions> = {}) =>
    createAccessTokenVerifier({ vigilUrl: vigil.url, clock: vigil.clock, ...options });

  test('accepts a valid access token and answers its claims', async () => {
    const sessionId = await vigil.createSession({ subject: 'alice', policy: 'default' });
    const { accessToken } = await vigil.issue(sessionId);
    const now = Math.floor(vigil.clock.now() / 1000);
    const claims = await verifier().verify(accessToken);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.sid, sessionId);
    assert.equal(claims.policy, 'default');
    assert.equal(claims.iss, 'vigil');
    assert.equal(claims.iat, now);
    assert.equal(claims.exp, now + 120);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(claims.aud, undefined);
  });

  test('refuses a tampered signature, a tampered payload, garbage and wrong claims: token_invalid', async () => {
    const v = verifier();
    const sessionId = await vigil.createSession({ subject: 'alice' });
    const { accessToken } = await vigil.issue(sessionId);
    const [header, payload, signature] = accessToken.split('.') as [string, string, string];
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'mallory' }),
    ).toString('base64url');
    const cases: Array<[string, string]> = [
      ['tampered signature', `${header}.${payload}.${flip(signature, 10)}`],
      ['tampered payload', `${header}.${forged}.${signature}`],
      ['truncated signature', `${header}.${payload}.${signature.slice(0, 20)}`],
      ['empty', ''],
      ['garbage', 'not a token'],
      ['three garbage parts', 'a.b.c'],
      ['a session token', `vgl_${'A'.repeat(43)}`],
      ['huge', `${header}.${'A'.repeat(20_000)}.${signature}`],
    ];
    for (const [label, token] of cases) await refused(v.verify(token), 'token_invalid', label);
    // Correct signature, wrong expectations of the verifier.
    await refused(verifier({ issuer: 'someone-else' }).verify(accessToken), 'token_invalid', 'iss');
    await refused(verifier({ audience: 'payments' }).verify(accessToken), 'token_invalid', 'aud');
    await refused(verifier({ algorithms: ['EdDSA'] }).verify(accessToken), 'token_invalid', 'alg subset');
    // The right verifier still takes it.
    assert.equal((await v.verify(accessToken)).sid, sessionId);
  });

  test('refuses alg none, HS256 (also keyed with the public key), a foreign key and a missing kid', async () => {
    const v = verifier();
    const sessionId = await vigil.createSession({ subject: 'alice' });
    const { accessToken } = await vigil.issue(sessionId);
    const { kid } = decodeProtectedHeader(accessToken);
    const claims = claimsAt(vigil.clock, { sid: sessionId });
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

    const none = `${b64({ alg: 'none', kid, typ: 'at+jwt' })}.${b64(claims)}.`;
    await refused(v.verify(none), 'token_invalid', 'alg none, empty signature');
    await refused(v.verify(`${none}AAAA`), 'token_invalid', 'alg none, some signature');

    const secret = new TextEncoder().encode('a shared secret of thirty-two bytes!');
    const hs256 = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .sign(secret);
    await refused(v.verify(hs256), 'token_invalid', 'HS256');
    // The classic confusion: the published public key used as an HMAC secret.
    const jwks = (await (await fetch(`${vigil.url}/.well-known/jwks.json`)).json()) as { keys: unknown[] };
    const confused = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
      .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0])));
    await refused(v.verify(confused), 'token_invalid', 'HS256 with the public key');

    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .sign(privateKey);
    await refused(v.verify(foreign), 'token_invalid', 'a foreign key claiming the kid');

    const noKid = await vigil.signWithServerKey(claims, { kid: undefined });
    await refused(v.verify(noKid), 'token_invalid', 'no kid');
  });

  test("refuses a Vigil-signed token that is not an access token or lacks Vigil's claims", async () => {
    const v = verifier();
    await vigil.issue(await vigil.createSession());
    const wrongType = await vigil.signWithServerKey(claimsAt(vigil.clock), { typ: 'JWT' });
    await refused(v.verify(wrongType), 'token_invalid', 'typ JWT');
    const noSid = claimsAt(vigil.clock);
    delete noSid.sid;
    await refused(v.verify(await vigil.signWithServerKey(noSid)), 'token_invalid', 'no sid');
    const numericPolicy = claimsAt(vigil.clock, { policy: 7 as unknown as string });
    await refused(v.verify(await vigil.signWithServerKey(numericPolicy)), 'token_invalid', 'policy type');
    const noExp = claimsAt(vigil.clock);
    delete (noExp as { exp?: number }).exp;
    await refused(v.verify(await vigil.signWithServerKey(noExp)), 'token_invalid', 'no exp');
    // The same claims, complete, pass: the refusals above were about what was missing.
    assert.equal((await v.verify(await vigil.signWithServerKey(claimsAt(vigil.clock)))).sub, 'alice');
  });

  test('refuses an expired token (token_expired); exp is capped by the idle deadline', async () => {
    const v = verifier();
    const tolerant = verifier({ clockToleranceSec: 5 });
    // `short`: idle 90 s, tokens of 5 min → this token's exp is the idle deadline, not 5 min away.
    const sessionId = await vigil.createSession({ subject: 'bob', policy: 'short' });
    const { accessToken, accessExpiresInMs } = await vigil.issue(sessionId);
    assert.equal(accessExpiresInMs, 90 * SECOND);
    assert.equal((await v.verify(accessToken)).policy, 'short');
    vigil.clock.advance(90 * SECOND - 1);
    assert.equal((await v.verify(accessToken)).sub, 'bob');
    vigil.clock.advance(1);
    await refused(v.verify(accessToken), 'token_expired');
    vigil.clock.advance(3 * SECOND);
    assert.equal((await tolerant.verify(accessToken)).sub, 'bob', 'within clockToleranceSec');
    vigil.clock.advance(3 * SECOND);
    await refused(tolerant.verify(accessToken), 'token_expired', 'past the tolerance');
  });

  test('key rotation: the new kid verifies (JWKS fetched again), the old token until it expires', async () => {
    const v = verifier({ jwksCooldownMs: 50 });
    const sessionId = await vigil.createSession({ subject: 'carol' });
    const first = await vigil.issue(sessionId);
    const oldKid = decodeProtectedHeader(first.accessToken).kid;
    await v.verify(first.accessToken); // the verifier now holds the JWKS of before the rotation
    const fetchesBefore = vigil.jwksRequests();

    const newKid = await vigil.rotate(30 * SECOND);
    vigil.clock.advance(30 * SECOND);
    const refreshed = await vigil.refresh(first.refreshToken);
    assert.equal(refreshed.status, 200);
    const second = refreshed.body.accessToken as string;
    assert.equal(decodeProtectedHeader(second).kid, newKid);
    assert.notEqual(newKid, oldKid);

    await sleep(60); // past the verifier's JWKS cooldown: an unknown kid may fetch again
    assert.equal((await v.verify(second)).sub, 'carol');
    assert.equal(vigil.jwksRequests(), fetchesBefore + 1, 'the unknown kid fetched the JWKS once');
    assert.equal((await v.verify(first.accessToken)).sub, 'carol', 'the old token still verifies');
    assert.equal((await verifier().verify(first.accessToken)).sub, 'carol', 'so does a fresh verifier');

    vigil.clock.advance(90 * SECOND); // 2 min after the first token was signed
    await refused(v.verify(first.accessToken), 'token_expired', 'the old token, at its exp');
    assert.equal((await v.verify(second)).sub, 'carol');
  });

  test('an unknown kid fetches the JWKS at most once per cooldown', async () => {
    const v = verifier();
    await v.verify((await vigil.issue(await vigil.createSession())).accessToken);
    const { privateKey } = await generateKeyPair('ES256');
    const fetches = vigil.jwksRequests();
    for (let i = 0; i < 5; i++) {
      const token = await new SignJWT(claimsAt(vigil.clock))
        .setProtectedHeader({ alg: 'ES256', kid: `made-up-${i}`, typ: 'at+jwt' })
        .sign(privateKey);
      await refused(v.verify(token), 'token_invalid', `made-up kid ${i}`);
    }
    assert.ok(vigil.jwksRequests() - fetches <= 1, `${vigil.jwksRequests() - fetches} fetches`);
  });

  test('a revoked session: accepted without the revocation check until exp, refused with it', async () => {
    const plain = verifier();
    const checked = verifier({ revocation: { apiKey: API_KEY, cacheMs: 0 } });
    const sessionId = await vigil.createSession({ subject: 'dave' });
    const { accessToken, refreshToken } = await vigil.issue(sessionId);
    assert.equal((await checked.verify(accessToken)).sub, 'dave', 'live: the check lets it through');

    await vigil.revoke(sessionId);
    const error = await refused(checked.verify(accessToken), 'session_ended');
    assert.equal(error.reason, 'revoked');
    assert.equal(error.status, 401);
    assert.equal(error.endedAt, vigil.clock.now());
    // Documented: without the check, a revoked session's token lives until its exp…
    assert.equal((await plain.verify(accessToken)).sub, 'dave');
    vigil.clock.advance(2 * MINUTE);
    // …and no longer.
    await refused(plain.verify(accessToken), 'token_expired');
    // Vigil itself refuses the refresh: no new access token after a revocation.
    const refreshed = await vigil.refresh(refreshToken);
    assert.equal(refreshed.status, 401);
    assert.equal((refreshed.body.error as { reason?: string }).reason, 'revoked');
  });

  test('the revocation check answers from its cache for cacheMs, then asks again', async () => {
    const checked = verifier({ revocation: { apiKey: API_KEY, cacheMs: 10 * SECOND } });
    const sessionId = await vigil.createSession({ subject: 'erin' });
    const { accessToken } = await vigil.issue(sessionId);
    await checked.verify(accessToken);
    await vigil.revoke(sessionId);
    vigil.clock.advance(10 * SECOND - 1);
    assert.equal((await checked.verify(accessToken)).sub, 'erin', 'a live answer, reused within cacheMs');
    vigil.clock.advance(1);
    const error = await refused(checked.verify(accessToken), 'session_ended');
    assert.equal(error.reason, 'revoked');
  });

  test('refresh reuse ends the whole session: the revocation check says refresh_reuse', async () => {
    const checked = verifier({ revocation: { apiKey: API_KEY, cacheMs: 0 } });
    const sessionId = await vigil.createSession({ subject: 'frank' });
    const first = await vigil.issue(sessionId);
    const rotated = await vigil.refresh(first.refreshToken);
    assert.equal(rotated.status, 200);
    const current = rotated.body.accessToken as string;
    // Within the grace window a retried refresh is no theft…
    vigil.clock.advance(5 * SECOND);
    assert.equal((await vigil.refresh(first.refreshToken)).status, 200);
    assert.equal((await checked.verify(current)).sub, 'frank');
    // …past it, the spent token ends the session, and every access token of it with the check.
    vigil.clock.advance(10 * SECOND);
    const reuse = await vigil.refresh(first.refreshToken);
    assert.equal(reuse.status, 401);
    const error = await refused(checked.verify(current), 'session_ended');
    assert.equal(error.reason, 'refresh_reuse');
    await refused(checked.verify(first.accessToken), 'session_ended', 'the older access token too');
  });

  test('a token for a session Vigil does not know is token_invalid with the check', async () => {
    const checked = verifier({ revocation: { apiKey: API_KEY, cacheMs: 0 } });
    await vigil.issue(await vigil.createSession());
    const token = await vigil.signWithServerKey(claimsAt(vigil.clock, { sid: 'Z'.repeat(43) }));
    assert.equal((await verifier().verify(token)).sid, 'Z'.repeat(43), 'the signature alone is fine');
    await refused(checked.verify(token), 'token_invalid');
  });

  test('a store outage behind Vigil: vigil_unavailable with its Retry-After, or accepted when opted in', async () => {
    const checked = verifier({ revocation: { apiKey: API_KEY, cacheMs: 0 } });
    const lenient = verifier({ revocation: { apiKey: API_KEY, cacheMs: 0, onUnavailable: 'accept' } });
    const { accessToken } = await vigil.issue(await vigil.createSession({ subject: 'gina' }));
    await checked.verify(accessToken);
    vigil.store.mode = 'hang';
    try {
      const error = await refused(checked.verify(accessToken), 'vigil_unavailable');
      assert.equal(error.status, 503);
      assert.ok((error.retryAfterMs ?? 0) >= 1000);
      assert.equal((await lenient.verify(accessToken)).sub, 'gina');
      // Local verification does not need the store at all.
      assert.equal((await verifier().verify(accessToken)).sub, 'gina');
    } finally {
      vigil.store.mode = 'ok';
    }
    assert.equal((await checked.verify(accessToken)).sub, 'gina', 'back to normal');
  });

  test('a wrong API key for the revocation check is vigil_unavailable, never a 401', async () => {
    const misconfigured = verifier({ revocation: { apiKey: 'not-the-key', cacheMs: 0 } });
    const { accessToken } = await vigil.issue(await vigil.createSession());
    const error = await refused(misconfigured.verify(accessToken), 'vigil_unavailable');
    assert.doesNotMatch(error.message, /not-the-key/);
  });
});

describe('createAccessTokenVerifier with Vigil down', () => {
  test('cached keys keep verifying; the revocation check answers vigil_unavailable (or accepts, opted in)', async () => {
    const vigil = await startTokenVigil();
    const options = { vigilUrl: vigil.url, clock: vigil.clock, jwksCacheMaxAgeMs: 1 };
    const plain = createAccessTokenVerifier(options);
    const checked = createAccessTokenVerifier({ ...options, revocation: { apiKey: API_KEY, cacheMs: 0 } });
    const lenient = createAccessTokenVerifier({
      ...options,
      revocation: { apiKey: API_KEY, cacheMs: 0, onUnavailable: 'accept' },
    });
    const never = createAccessTokenVerifier({ vigilUrl: vigil.url, clock: vigil.clock });
    const { accessToken } = await vigil.issue(await vigil.createSession({ subject: 'hank' }));
    for (const v of [plain, checked, lenient]) await v.verify(accessToken);
    await vigil.close();
    await sleep(5); // the cached JWKS is now stale (jwksCacheMaxAgeMs: 1) and cannot be fetched again

    assert.equal((await plain.verify(accessToken)).sub, 'hank', 'the last known keys still verify');
    const error = await refused(checked.verify(accessToken), 'vigil_unavailable');
    assert.equal(error.status, 503);
    assert.equal(error.retryAfterMs, 1000);
    assert.equal((await lenient.verify(accessToken)).sub, 'hank');
    // A verifier that never had the keys cannot verify anything: 503, not 401, not a pass.
    await refused(never.verify(accessToken), 'vigil_unavailable', 'no keys yet');
    // An unknown kid while Vigil is down may be a key published since: unavailable, not invalid.
    const { privateKey } = await generateKeyPair('ES256');
    const unknownKid = await new SignJWT(claimsAt(vigil.clock))
      .setProtectedHeader({ alg: 'ES256', kid: 'rotated-meanwhile', typ: 'at+jwt' })
      .sign(privateKey);
    await refused(plain.verify(unknownKid), 'vigil_unavailable', 'unknown kid');
    // A bad signature under a known kid is still simply invalid.
    const [h, p, s] = accessToken.split('.') as [string, string, string];
    await refused(plain.verify(`${h}.${p}.${flip(s, 10)}`), 'token_invalid', 'bad signature');
  });

  test('a JWKS that answers something else than a JWK Set is vigil_unavailable', async () => {
    const vigil = await startTokenVigil();
    try {
      const { accessToken } = await vigil.issue(await vigil.createSession());
      const wrongPath = createAccessTokenVerifier({ jwksUrl: `${vigil.url}/healthz`, clock: vigil.clock });
      await refused(wrongPath.verify(accessToken), 'vigil_unavailable', 'not a JWK Set');
      const missing = createAccessTokenVerifier({ jwksUrl: `${vigil.url}/nothing-here`, clock: vigil.clock });
      await refused(missing.verify(accessToken), 'vigil_unavailable', '404');
      const right = createAccessTokenVerifier({
        jwksUrl: `${vigil.url}/.well-known/jwks.json`,
        clock: vigil.clock,
      });
      assert.equal((await right.verify(accessToken)).sub, 'alice');
    } finally {
      await vigil.close();
    }
  });
});

describe('createAccessTokenVerifier options are checked when it is created', () => {
  const url = 'http://127.0.0.1:9';
  const bad: Array<[unknown, RegExp]> = [
    [undefined, /options are required/],
    [{}, /exactly one of options.vigilUrl and options.jwksUrl/],
    [{ vigilUrl: url, jwksUrl: `${url}/jwks` }, /exactly one/],
    [{ vigilUrl: 'ftp://x' }, /options.vigilUrl/],
    [{ jwksUrl: 'not a url' }, /options.jwksUrl/],
    [{ vigilUrl: url, algorithms: ['RS256'] }, /options.algorithms/],
    [{ vigilUrl: url, algorithms: ['none'] }, /options.algorithms/],
    [{ vigilUrl: url, algorithms: [] }, /options.algorithms/],
    [{ vigilUrl: url, issuer: '' }, /options.issuer/],
    [{ vigilUrl: url, audience: [] }, /options.audience/],
    [{ vigilUrl: url, clockToleranceSec: -1 }, /options.clockToleranceSec/],
    [{ vigilUrl: url, timeoutMs: 0 }, /options.timeoutMs/],
    [{ vigilUrl: url, revocation: { apiKey: '' } }, /options.revocation.apiKey/],
    [{ vigilUrl: url, revocation: { apiKey: 'k', onUnavailable: 'maybe' } }, /onUnavailable/],
    [{ vigilUrl: url, revocation: { apiKey: 'k', cacheMs: -1 } }, /revocation.cacheMs/],
    [{ vigilUrl: url, revocation: { apiKey: 'k', cache: 5 } }, /unknown option 'revocation.cache'/],
    [{ jwksUrl: `${url}/jwks`, revocation: { apiKey: 'k' } }, /revocation.vigilUrl is required/],
    [{ vigilUrl: url, jwks: url }, /unknown option 'jwks'/],
  ];
  for (const [options, message] of bad) {
    test(`refuses ${JSON.stringify(options)}`, () => {
      assert.throws(
        () => createAccessTokenVerifier(options as AccessTokenVerifierOptions),
        (error: unknown) =>
          error instanceof TypeError &&
          error.message.startsWith('createAccessTokenVerifier: ') &&
          message.test(error.message),
      );
    });
  }

  test('takes a minimal and a complete set of options', () => {
    createAccessTokenVerifier({ vigilUrl: url });
    createAccessTokenVerifier({
      jwksUrl: new URL(`${url}/.well-known/jwks.json`),
      issuer: 'https://vigil.example.com',
      audience: ['api', 'admin'],
      algorithms: ['EdDSA'],
      clockToleranceSec: 2,
      timeoutMs: 500,
      jwksCooldownMs: 0,
      jwksCacheMaxAgeMs: 60_000,
      retryAfterMs: 2000,
      revocation: {
        apiKey: 'k',
        vigilUrl: url,
        cacheMs: 0,
        timeoutMs: 300,
        maxEntries: 10,
        onUnavailable: 'accept',
      },
    });
  });
});
