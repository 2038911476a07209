/**
 * What `createVigil({ countFetchAsActivity })` takes: wraps `fetch` while the vigil runs (it calls
 * this on `start()` and the returned function on `stop()`).
 */
export type FetchActivityCounter = (
  onActivity: () => void,
  /** A `401` from the app's API: `reason` when its body is Vigil's `session_ended` error, else null. */
  onUnauthorized: (reason: string | null) => void,
) => () => void;

/**
 * Counts the app's own `fetch` calls as user activity (unless marked `X-Vigil-Activity: passive`,
 * as polling should be) and reports their `401`s. Opt-in, and a separate import, so that apps that
 * do not want `fetch` wrapped do not ship the code that wraps it. Returns the function that restores
 * `fetch`.
 */
export const countFetchAsActivity: FetchActivityCounter = (onActivity, onUnauthorized) => {
  const original = globalThis.fetch;
  const counted: typeof fetch = function countedFetch(input, init) {
    if (!isPassive(input, init)) onActivity();
    return original(input, init).then((response) => {
      if (response.status === 401) {
        void response
          .clone()
          .json()
          .then(
            (body: { error?: { code?: string; reason?: string } }) =>
              onUnauthorized((body.error?.code === 'session_ended' && body.error.reason) || null),
            () => onUnauthorized(null),
          );
      }
      return response;
    });
  };
  globalThis.fetch = counted;
  return () => {
    if (globalThis.fetch === counted) globalThis.fetch = original;
  };
};

function isPassive(input: RequestInfo | URL, init: RequestInit | undefined): boolean {
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  return headers.get('x-vigil-activity')?.toLowerCase() === 'passive';
}
