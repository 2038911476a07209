export type Off = () => void;

export interface Emitter<E> {
  /** Subscribes; the returned function unsubscribes. */
  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): Off;
  emit<K extends keyof E>(event: K, payload: E[K]): void;
}

/**
 * A tiny typed emitter. A throwing listener neither stops the others nor the SDK: its error is
 * re-thrown in a microtask, where the page's error reporting sees it.
 */
export function createEmitter<E>(): Emitter<E> {
  const listeners: { [K in keyof E]?: Array<(payload: E[K]) => void> } = {};
  return {
    on(event, listener) {
      listeners[event] = [...(listeners[event] ?? []), listener];
      return () => {
        listeners[event] = listeners[event]?.filter((l) => l !== listener);
      };
    },
    emit(event, payload) {
      for (const listener of listeners[event] ?? []) {
        try {
          listener(payload);
        } catch (error) {
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },
  };
}
