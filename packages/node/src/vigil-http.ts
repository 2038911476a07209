/** What the HTTP clients of this package (remote checks, JWKS, revocation) share about talking to Vigil. */

/**
 * `path` under a Vigil base URL given as option `option`, keeping a path prefix
 * (`https://example.com/vigil` + `v1/authorize` → `/vigil/v1/authorize`). Throws a `TypeError`
 * naming the option for anything but an http(s) URL without query, fragment or credentials.
 */
export function vigilEndpoint(caller: string, option: string, value: unknown, path: string): string {
  const base = httpUrl(caller, option, value);
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return new URL(path, base).href;
}

/** An absolute http(s) URL without query, fragment or credentials, as given (`jwksUrl`). */
export function httpUrl(caller: string, option: string, value: unknown): URL {
  let url: URL;
  try {
    url = new URL(value instanceof URL ? value.href : (value as string));
  } catch {
    throw new TypeError(
      `${caller}: options.${option} must be an absolute http(s) URL, e.g. 'http://127.0.0.1:8080'`,
    );
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw new TypeError(`${caller}: options.${option} must be an http(s) URL without query or fragment`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`${caller}: options.${option} must not carry credentials`);
  }
  return url;
}

export function positiveInteger(caller: string, option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`${caller}: options.${option} must be a positive integer number of milliseconds`);
  }
  return value;
}

export function nonNegativeInteger(caller: string, option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TypeError(`${caller}: options.${option} must be a non-negative integer`);
  }
  return value;
}

/** A JSON object, or null for anything else (not JSON, an array, a scalar). */
export function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** `Retry-After` in whole seconds, as ms (at least 1 s); undefined when absent or a date. */
export function retryAfterOf(headers: Headers): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Math.max(1, Number(value.trim())) * 1000;
}

/** Whether a `fetch` failed because its `AbortSignal.timeout` fired. */
export function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
