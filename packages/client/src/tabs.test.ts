import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeLocks } from '../test/support/fake-locks.js';
import { FakeServer } from '../test/support/fake-server.js';
import { FakeTime, settle } from '../test/support/fake-time.js';
import { harness } from '../test/support/harness.js';
import { joinTabs, type TabMessage, type Tabs } from './tabs.js';

let names = 0;
const open: Tabs[] = [];
after(() => {
  for (const tab of open) tab.close();
});

function tab(name: string, extra: { locks?: FakeLocks | null } = {}) {
  const state = { leader: false, got: [] as TabMessage[] };
  const tabs = joinTabs({
    name,
    locks: extra.locks ?? null,
    onMessage: (m) => state.got.push(m),
    onLeadership: (leader) => {
      state.leader = leader;
    },
  });
  open.push(tabs);
  return Object.assign(state, { tabs });
}

describe('leader election', () => {
  it('elects exactly one leader with Web Locks, and the next one when it leaves', async () => {
    const locks = new FakeLocks();
    const name = `t${names++}`;
    const a = tab(name, { locks });
    const b = tab(name, { locks });
    await settle();
    assert.deepEqual([a.leader, b.leader], [true, false]);
    a.tabs.close();
    await settle();
    assert.equal(b.leader, true);
  });

  it('has every tab lead without Web Locks, and still passes messages between them', async () => {
    const name = `t${names++}`;
    const all = [tab(name), tab(name), tab(name)];
    assert.deepEqual(
      all.map((t) => t.leader),
      [true, true, true],
    );
    all[0]?.tabs.post({ t: 'ended', reason: 'logout' });
    await settle();
    assert.deepEqual(
      all.map((t) => t.got),
      [[], [{ t: 'ended', reason: 'logout' }], [{ t: 'ended', reason: 'logout' }]],
    );
  });

  it('leads alone without BroadcastChannel', () => {
    let leader = false;
    const tabs = joinTabs({
      name: 'alone',
      BroadcastChannel: null,
      onMessage: () => {},
      onLeadership: (value) => {
        leader = value;
      },
    });
    assert.equal(leader, true);
    tabs.close();
  });

  it('passes messages to the other tabs, not to itself', async () => {
    const locks = new FakeLocks();
    const name = `t${names++}`;
    const a = tab(name, { locks });
    const b = tab(name, { locks });
    a.tabs.post({ t: 'ended', reason: 'logout' });
    await settle();
    assert.deepEqual(b.got, [{ t: 'ended', reason: 'logout' }]);
    assert.deepEqual(a.got, []);
  });
});

describe('tabs acting as one', () => {
  function twoTabs() {
    const time = new FakeTime();
    const server = new FakeServer(time);
    const locks = new FakeLocks();
    const tabs = { name: `vigil-${names++}`, locks };
    const a = harness({ tabs }, undefined, { time, server });
    const b = harness({ tabs }, undefined, { time, server });
    return { time, server, a, b };
  }

  it('lets activity in a follower tab keep the session alive, with heartbeats from the leader only', async () => {
    const { time, server, a, b } = twoTabs();
    await a.vigil.start();
    await b.vigil.start();
    await settle();
    assert.equal(a.vigil.status().leader, true);
    assert.equal(b.vigil.status().leader, false);
    const heartbeatsBefore = server.heartbeats().length;
    await b.work(90_000, 1000);
    assert.equal(a.of('ended').length + b.of('ended').length, 0);
    assert.equal(server.ended, null);
    assert.ok(server.heartbeats('active').length >= 8);
    // Both tabs share one fetch here; the leader sends: the follower's fetch was never asked to beat.
    assert.ok(server.heartbeats().length > heartbeatsBefore);
    assert.equal(a.vigil.status().expiresAt, b.vigil.status().expiresAt);
    a.vigil.stop();
    b.vigil.stop();
    await time.advance(1);
  });

  it('has only the leader send heartbeats', async () => {
    const time = new FakeTime();
    const server = new FakeServer(time);
    const locks = new FakeLocks();
    const tabs = { name: `vigil-${names++}`, locks };
    const sentBy: string[] = [];
    const via = (who: string) => (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).endsWith('/v1/heartbeat')) sentBy.push(who);
      return server.fetch(input, init);
    };
    const a = harness({ tabs, fetch: via('a') }, undefined, { time, server });
    const b = harness({ tabs, fetch: via('b') }, undefined, { time, server });
    await a.vigil.start();
    await b.vigil.start();
    for (let i = 0; i < 40; i++) {
      (i % 2 ? a : b).act('keydown');
      await time.advance(1000);
    }
    assert.ok(sentBy.length >= 3);
    assert.deepEqual(new Set(sentBy), new Set(['a']));
    a.vigil.stop();
    b.vigil.stop();
  });

  it('ends every tab on logout in one, and passes warnings and extends around', async () => {
    const { time, server, a, b } = twoTabs();
    await a.vigil.start();
    await b.vigil.start();
    await time.advance(22_000);
    assert.equal(a.vigil.status().state, 'warning');
    assert.equal(b.vigil.status().state, 'warning');
    const extending = b.vigil.extend();
    await time.advance(10);
    assert.deepEqual(
      server.heartbeats('active').map((c) => c.body),
      [{ state: 'active', warning: 'extended' }],
    );
    assert.equal(a.of('extended').length, 1);
    assert.equal(b.of('extended').length, 1);
    await time.advance(3000);
    await extending;
    assert.equal(server.heartbeats('active').length, 1, 'the follower did not extend a second time');
    await a.vigil.logout();
    await time.advance(10);
    assert.deepEqual(b.of('ended')[0]?.payload, { reason: 'logout' });
    assert.equal(server.ended, 'logout');
  });

  it('ends every tab when the session expires', async () => {
    const { time, a, b } = twoTabs();
    await a.vigil.start();
    await b.vigil.start();
    await time.advance(31_000);
    assert.deepEqual(a.of('ended')[0]?.payload, { reason: 'idle_timeout' });
    assert.deepEqual(b.of('ended')[0]?.payload, { reason: 'idle_timeout' });
    assert.ok((b.of('ended')[0]?.at ?? 0) < (a.of('ended')[0]?.at ?? 0) + 1000);
  });

  it('without Web Locks keeps a quiet tab signed in while the user works in another, with no warning', async () => {
    const time = new FakeTime();
    const server = new FakeServer(time);
    const tabs = { name: `vigil-${names++}`, locks: null };
    const a = harness({ tabs }, undefined, { time, server });
    const b = harness({ tabs }, undefined, { time, server });
    await a.vigil.start();
    await b.vigil.start();
    assert.deepEqual([a.vigil.status().leader, b.vigil.status().leader], [true, true]);
    await b.work(90_000, 1000);
    assert.equal(server.ended, null);
    assert.deepEqual(
      [a.of('warning').length, a.of('ended').length],
      [0, 0],
      'tab A neither warned nor ended',
    );
    assert.ok(server.heartbeats('active').length >= 8);
    assert.ok((a.vigil.status().expiresAt ?? 0) > time.now() + 20_000, "A holds the deadline B's work set");
    await a.vigil.logout();
    await time.advance(10);
    assert.deepEqual(b.of('ended')[0]?.payload, { reason: 'logout' });
    b.vigil.stop();
  });

  it('hands the heartbeats to another tab when the leader closes', async () => {
    const { server, a, b } = twoTabs();
    await a.vigil.start();
    await b.vigil.start();
    await settle();
    a.vigil.stop();
    await settle();
    assert.equal(b.vigil.status().leader, true);
    await b.work(40_000, 1000);
    assert.ok(server.heartbeats('active').length >= 3);
    assert.equal(b.of('ended').length, 0);
    b.vigil.stop();
  });
});
