import type { SessionRecord } from './session.js';

/**
 * What happens to sessions, each emitted exactly once (DESIGN: Events). `session.revoked` covers
 * every end that is not a timeout; its record's `reason` tells which (`revoked`, `logout`, `evicted`…).
 */
export type SessionEvent =
  | { type: 'session.created'; session: SessionRecord; at: number }
  | { type: 'session.warning'; session: SessionRecord; at: number }
  | { type: 'session.extended'; session: SessionRecord; at: number }
  | { type: 'session.expired'; session: SessionRecord; at: number }
  | { type: 'session.revoked'; session: SessionRecord; at: number }
  | {
      type: 'heartbeat.sleeping';
      session: SessionRecord;
      params: Record<string, unknown> | undefined;
      at: number;
    };

export type SessionEventType = SessionEvent['type'];
export type SessionEventListener = (event: SessionEvent) => void;

/** The event for a session that has just ended, by its reason. */
export function endEvent(session: SessionRecord, at: number): SessionEvent {
  const timedOut = session.reason === 'idle_timeout' || session.reason === 'absolute_timeout';
  return { type: timedOut ? 'session.expired' : 'session.revoked', session, at };
}

/** A small synchronous event bus; a throwing listener cannot stop the others. */
export class SessionEvents {
  readonly #listeners = new Set<SessionEventListener>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  on(listener: SessionEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: SessionEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}
