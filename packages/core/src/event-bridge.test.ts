import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bridgeEvents, isRemoteEvent, type RemoteEventChannel } from './event-bridge.js';
import { endEvent, type SessionEvent, SessionEvents } from './events.js';
import { createSession, endSession } from './lifecycle.js';
import { resolvePolicy } from './policy.js';

const policy = resolvePolicy('default', { idleTimeout: '60s', absoluteTimeout: '1h' });
const T0 = Date.UTC(2026, 0, 1, 12);

/**
 * Pub/sub between nodes as Redis does it: a message goes to every *other* node, as JSON text, and
 * each listener gets its own parsed copy. Delivery is synchronous here so that tests need no waits.
 */
class Hub {
  readonly #nodes = new Set<Node>();
  published = 0;

  node(): Node {
    const node = new Node(this);
    this.#nodes.add(node);
    return node;
  }

  send(from: Node, wire: string): void {
    this.published++;
    for (const node of this.#nodes) if (node !== from) node.deliver(wire);
  }
}

class Node implements RemoteEventChannel {
  readonly #hub: Hub;
  readonly #listeners = new Set<(event: SessionEvent) => void>();
  readonly events = new SessionEvents((error) => {
    throw error;
  });
  readonly seen: SessionEvent[] = [];

  constructor(hub: Hub) {
    this.#hub = hub;
    this.events.on((event) => this.seen.push(event));
  }

  publish(event: SessionEvent): void {
    this.#hub.send(this, JSON.stringify(event));
  }

  onRemoteEvent(listener: (event: SessionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  deliver(wire: string): void {
    for (const listener of this.#listeners) listener(JSON.parse(wire));
  }

  get listenerCount(): number {
    return this.#listeners.size;
  }
}

function sampleEvents(): SessionEvent[] {
  const record = createSession({
    id: 'sid-1',
    subject: 'alice',
    policy,
    attributes: { tenant: 't1', nested: { list: [1, 'two', null] } },
    now: T0,
  });
  return [
    { type: 'session.created', session: record, at: T0 },
    { type: 'heartbeat.sleeping', session: record, params: { tab: 3 }, at: T0 + 1 },
    { type: 'heartbeat.sleeping', session: record, params: undefined, at: T0 + 2 },
    { type: 'session.warning', session: record, at: T0 + 3 },
    { type: 'session.extended', session: record, at: T0 + 4 },
    endEvent(endSession(record, 'revoked', T0 + 5), T0 + 5),
    endEvent(endSession(record, 'idle_timeout', T0 + 6), T0 + 6),
  ];
}

/** What an event looks like after a trip through JSON (undefined fields vanish). */
const plain = (event: SessionEvent) => JSON.parse(JSON.stringify(event));

describe('bridgeEvents', () => {
  it('delivers every local event to the other nodes, unchanged but for JSON, marked remote', () => {
    const hub = new Hub();
    const [a, b, c] = [hub.node(), hub.node(), hub.node()];
    for (const node of [a, b, c]) bridgeEvents(node.events, node);
    const events = sampleEvents();
    for (const event of events) a.events.emit(event);

    assert.equal(hub.published, events.length, 'one publish per local event, none for remote ones');
    for (const node of [b, c]) {
      assert.deepEqual(node.seen.map(plain), events.map(plain), 'no loss, same order');
      assert.ok(node.seen.every(isRemoteEvent));
      assert.ok(node.seen.every((event) => 'remote' in event && event.remote === true));
    }
    assert.equal(a.seen.length, events.length, 'the origin hears its own events once (no echo)');
    assert.ok(a.seen.every((event) => !isRemoteEvent(event)));
  });

  it('keeps the remote mark out of JSON and copies', () => {
    const hub = new Hub();
    const [a, b] = [hub.node(), hub.node()];
    bridgeEvents(a.events, a);
    bridgeEvents(b.events, b);
    const [created] = sampleEvents();
    if (created === undefined) throw new Error('no sample');
    a.events.emit(created);
    const received = b.seen[0];
    assert.ok(received !== undefined && isRemoteEvent(received));
    assert.equal(JSON.parse(JSON.stringify(received)).remote, undefined);
    assert.equal(isRemoteEvent({ ...received }), false);
  });

  it('does not loop when nodes are bridged both ways and every node re-emits what it hears', () => {
    const hub = new Hub();
    const nodes = [hub.node(), hub.node(), hub.node()];
    for (const node of nodes) bridgeEvents(node.events, node);
    // A careless listener on every node that re-emits everything it sees (as a relay might): the
    // re-emitted remote event keeps its mark, so it is still not published.
    for (const node of nodes) {
      let depth = 0;
      node.events.on((event) => {
        if (depth > 0 || !isRemoteEvent(event)) return;
        depth++;
        node.events.emit(event);
        depth--;
      });
    }
    const [created] = sampleEvents();
    if (created === undefined) throw new Error('no sample');
    nodes[0]?.events.emit(created);
    assert.equal(hub.published, 1);
  });

  it('stops both ways at the off-switch, and the switch is idempotent', () => {
    const hub = new Hub();
    const [a, b] = [hub.node(), hub.node()];
    const offA = bridgeEvents(a.events, a);
    bridgeEvents(b.events, b);
    const [created, warning] = sampleEvents();
    if (created === undefined || warning === undefined) throw new Error('no sample');

    offA();
    offA();
    assert.equal(a.listenerCount, 0, 'the remote listener is removed');
    a.events.emit(created);
    assert.equal(hub.published, 0, 'nothing published after the off-switch');
    assert.equal(b.seen.length, 0);
    b.events.emit(warning);
    assert.equal(hub.published, 1);
    assert.deepEqual(
      a.seen.map((e) => e.type),
      ['session.created'],
      'nothing remote emitted after the off-switch',
    );
  });

  it('reports a failed publish (thrown or rejected) and keeps the bus working', async () => {
    const events = new SessionEvents((error) => {
      throw error;
    });
    const errors: unknown[] = [];
    let calls = 0;
    const failing: RemoteEventChannel = {
      publish: () => {
        calls++;
        if (calls === 1) throw new Error('sync failure');
        return Promise.reject(new Error('async failure'));
      },
      onRemoteEvent: () => () => {},
    };
    bridgeEvents(events, failing, { onError: (error) => errors.push(error) });
    const heard: SessionEvent[] = [];
    events.on((event) => heard.push(event));
    const [created, warning] = sampleEvents();
    if (created === undefined || warning === undefined) throw new Error('no sample');
    events.emit(created);
    events.emit(warning);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ['sync failure', 'async failure'],
    );
    assert.equal(heard.length, 2, 'local listeners still hear every event');
  });

  it('drops remote messages that are not events this version knows, and reports them', () => {
    let deliver: (event: unknown) => void = () => {};
    const channel: RemoteEventChannel = {
      publish: () => {},
      onRemoteEvent: (listener) => {
        deliver = listener as (event: unknown) => void;
        return () => {};
      },
    };
    const events = new SessionEvents();
    const heard: SessionEvent[] = [];
    events.on((event) => heard.push(event));
    const errors: unknown[] = [];
    bridgeEvents(events, channel, { onError: (_error, message) => errors.push(message) });
    const record = createSession({ id: 'sid-2', subject: 'bob', policy, now: T0 });
    const bad = [
      null,
      'session.created',
      { type: 'session.teleported', session: record, at: T0 },
      { type: 'session.created', at: T0 },
      { type: 'session.created', session: { subject: 'bob' }, at: T0 },
      { type: 'session.created', session: record, at: 'now' },
      { type: 'toString', session: record, at: T0 },
    ];
    for (const message of bad) deliver(message);
    assert.equal(heard.length, 0);
    assert.equal(errors.length, bad.length);
    deliver({ type: 'session.created', session: record, at: T0 });
    assert.equal(heard.length, 1);
  });
});
