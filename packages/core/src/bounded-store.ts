import { StoreUnavailableError, VigilError } from './errors.js';
import type { Store } from './store.js';

export interface BoundedStoreOptions {
  /** Longest a store call may take before the caller gets `store_unavailable` (DESIGN: 2 s). */
  timeoutMs: number;
  /** What the `503` tells clients to wait (`Retry-After`). */
  retryAfterMs?: number;
  /** A name for messages and logs, never a connection string with secrets. */
  label?: string;
}

/**
 * Wraps a store so that every call ends within `timeoutMs` and every failure is a
 * `StoreUnavailableError`: an outage answers `503` quickly instead of hanging, and never looks like
 * an ended session (`401`). Principle 4: a store outage is not a logout.
 */
export function boundedStore(store: Store, options: BoundedStoreOptions): Store {
  const bound = <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    boundedCall(store, name, call, options);

  return {
    create: bound('create', store.create),
    get: bound('get', store.get),
    touch: bound('touch', store.touch),
    end: bound('end', store.end),
    endAllForSubject: bound('endAllForSubject', store.endAllForSubject),
    listBySubject: bound('listBySubject', store.listBySubject),
    claimExpired: bound('claimExpired', store.claimExpired),
    claimWarnings: bound('claimWarnings', store.claimWarnings),
    purgeEnded: bound('purgeEnded', store.purgeEnded),
    countLive: bound('countLive', store.countLive),
    ping: bound('ping', store.ping),
    close: () => store.close(),
  };
}

/**
 * One method of `target`, bounded as `boundedStore` bounds a store's: it ends within `timeoutMs`,
 * and any failure that is not already a `VigilError` becomes `store_unavailable`.
 */
export function boundedCall<A extends unknown[], R>(
  target: object,
  name: string,
  call: (...args: A) => Promise<R>,
  options: BoundedStoreOptions,
): (...args: A) => Promise<R> {
  const { timeoutMs, retryAfterMs = 1000, label = 'store' } = options;
  return (...args: A): Promise<R> =>
    new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new StoreUnavailableError(`${label}: ${name} took longer than storeTimeout (${timeoutMs} ms)`, {
            retryAfterMs,
          }),
        );
      }, timeoutMs);
      let pending: Promise<R>;
      try {
        pending = call.apply(target, args);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(
            error instanceof VigilError
              ? error
              : new StoreUnavailableError(`${label}: ${name} failed`, { cause: error, retryAfterMs }),
          );
        },
      );
    });
}
