/**
 * Counts the app's own `fetch` calls as user activity (unless marked `X-Vigil-Activity: passive`,
 * as polling should be) and reports their `401`s. Returns the function that restores `fetch`.
 */
export function countFetchAsActivity(
  onActivity: () => void,
  onUnauthorized: (response: Response) => void,
): () => void {
  const original = globalThis.fetch;
  const counted: typeof fetch = function countedFetch(input, init) {
    if (!isPassive(input, init)) onActivity();
    return original(input, init).then((response) => {
      if (response.status === 401) onUnauthorized(response);
      return response;
    });
  };
  globalThis.fetch = counted;
  return () => {
    if (globalThis.fetch === counted) globalThis.fetch = original;
  };
}

function isPassive(input: RequestInfo | URL, init: RequestInit | undefined): boolean {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  return headers.get('x-vigil-activity')?.toLowerCase() === 'passive';
}
