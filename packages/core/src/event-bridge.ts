import type { SessionEvent, SessionEvents, SessionEventType } from './events.js';

/**
 * What a cross-node store offers for events (e.g. `RedisStore`): `publish` sends an event to the
 * other nodes; `onRemoteEvent` hears the events other nodes published — never this node's own.
 */
export interface RemoteEventChannel {
  publish(event: SessionEvent): Promise<void> | void;
  onRemoteEvent(listener: (event: SessionEvent) => void): () => void;
}

export interface BridgeOptions {
  /**
   * A publish that failed (the store is down: that node's listeners miss the event, the sessions
   * themselves are unaffected), or a remote message that is not an event this version knows.
   * Default: ignored. Never throws into the bus.
   */
  onError?: (error: unknown, event: unknown) => void;
}

/** The events that arrived from another node; a WeakSet, so marking never keeps an event alive. */
const remoteEvents = new WeakSet<object>();

/** Every event type, checked against `SessionEventType` by the compiler (a new type must be added). */
const EVENT_TYPES: Record<SessionEventType, true> = {
  'session.created': true,
  'session.warning': true,
  'session.extended': true,
  'session.expired': true,
  'session.revoked': true,
  'heartbeat.sleeping': true,
};

/**
 * Whether an event on the local bus came from another node through `bridgeEvents`. Counters and
 * deliveries that must happen once per cluster (metrics' `_total` counters, webhooks) skip these:
 * the node where the event happened already counted it. Pushes to this node's own clients (SSE,
 * WebSocket) and bookkeeping (which sessions are in their warning period) must not skip them.
 */
export function isRemoteEvent(event: SessionEvent): boolean {
  return remoteEvents.has(event);
}

/**
 * Joins a node's event bus to the other nodes': every event emitted locally is published; every
 * event another node published is emitted on the local bus, marked remote (`isRemoteEvent`), and
 * not published again, so nothing echoes. Events cross as JSON: a session record is plain data.
 * Returns the off-switch: after it, nothing more is published or emitted.
 *
 * Delivery is the channel's (Redis pub/sub: at most once, to the nodes connected at that moment);
 * the session state never depends on it, since every node reads the same store.
 */
export function bridgeEvents(
  local: SessionEvents,
  remote: RemoteEventChannel,
  options: BridgeOptions = {},
): () => void {
  const onError = options.onError ?? (() => {});
  let open = true;

  const offLocal = local.on((event) => {
    if (!open || remoteEvents.has(event)) return;
    let sent: Promise<void> | void;
    try {
      sent = remote.publish(event);
    } catch (error) {
      onError(error, event);
      return;
    }
    // A rejected publish must surface as a report, never as an unhandled rejection.
    if (sent !== undefined) sent.then(undefined, (error: unknown) => onError(error, event));
  });

  const offRemote = remote.onRemoteEvent((event: unknown) => {
    if (!open) return;
    if (!isSessionEvent(event)) {
      onError(new TypeError('a remote message is not a session event this node knows; ignored'), event);
      return;
    }
    if (!remoteEvents.has(event)) {
      remoteEvents.add(event);
      // Also readable as `event.remote === true` (non-enumerable: never serialized, never spread).
      if (Object.isExtensible(event)) Object.defineProperty(event, 'remote', { value: true });
    }
    local.emit(event);
  });

  return () => {
    if (!open) return;
    open = false;
    offLocal();
    offRemote();
  };
}

/** Enough of a shape check that a listener can rely on `type`, `at` and `session.id`. */
function isSessionEvent(value: unknown): value is SessionEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { type, at, session } = value as Record<string, unknown>;
  return (
    typeof type === 'string' &&
    Object.hasOwn(EVENT_TYPES, type) &&
    typeof at === 'number' &&
    typeof session === 'object' &&
    session !== null &&
    typeof (session as Record<string, unknown>).id === 'string'
  );
}
