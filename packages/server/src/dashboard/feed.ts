import { type AdminApi, ApiError, type FeedEvent } from './api.js';
import { h } from './dom.js';
import { formatTime, shortId } from './format.js';

const MAX_ITEMS = 200;

const LABELS: Record<string, string> = {
  'session.created': 'created',
  'session.warning': 'warning',
  'session.extended': 'extended',
  'session.expired': 'expired',
  'session.revoked': 'ended',
};

/** The newest events first, at most 200 (older ones drop off the end). */
export class FeedList {
  readonly #list: HTMLElement;

  constructor(list: HTMLElement) {
    this.#list = list;
  }

  add(event: FeedEvent): void {
    const { session } = event;
    const label = LABELS[event.type] ?? event.type;
    const item = h(
      'li',
      { class: `event ${label}`, 'data-type': event.type },
      h('time', { datetime: event.at }, formatTime(event.at)),
      ' ',
      h('strong', {}, label),
      session.reason === undefined ? '' : ` (${session.reason})`,
      ' · ',
      session.subject,
      ' · ',
      session.policy,
      ' · ',
      h('code', { title: session.id }, shortId(session.id)),
    );
    this.#list.prepend(item);
    while (this.#list.childElementCount > MAX_ITEMS) this.#list.lastElementChild?.remove();
  }

  clear(): void {
    this.#list.replaceChildren();
  }
}

export interface FollowHandlers {
  onEvent: (event: FeedEvent) => void;
  /** Connected (again): whatever happened while away is not in the feed, so views read afresh. */
  onOpen: () => void;
  onDown: (message: string) => void;
  onUnauthorized: () => void;
}

/**
 * Keeps the live feed open: after a drop or a server restart it reconnects with exponential backoff
 * (1 s to 30 s, with jitter, or the server's `Retry-After`); a refused key stops it for good.
 * Returns the off-switch.
 */
export function followFeed(api: AdminApi, handlers: FollowHandlers): () => void {
  const controller = new AbortController();
  let failures = 0;
  void (async () => {
    while (!controller.signal.aborted) {
      let waitMs: number | null = null;
      try {
        await api.feed(
          handlers.onEvent,
          () => {
            failures = 0;
            handlers.onOpen();
          },
          controller.signal,
        );
        if (controller.signal.aborted) return;
        handlers.onDown('The live feed was closed by the server; reconnecting…');
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) {
          handlers.onUnauthorized();
          return;
        }
        if (error instanceof ApiError) waitMs = error.retryAfterMs;
        handlers.onDown(
          `The live feed is down (${error instanceof Error ? error.message : String(error)}); reconnecting…`,
        );
      }
      failures++;
      const backoff = Math.min(30_000, 1000 * 2 ** Math.min(failures - 1, 5));
      await sleep(waitMs ?? backoff * (0.5 + Math.random() / 2), controller.signal);
    }
  })();
  return () => controller.abort();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
