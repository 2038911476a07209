// Thousands of simulated users against one `vigil serve`, over real HTTP: each signs in, then moves
// between active periods (active heartbeats, forwarded page loads, some in quick bursts that
// coalesce), sleeping periods (sleeping heartbeats, passive polls, reads) and idle periods (nothing
// at all, often timed to come back just before or just after its deadline), and now and then logs
// out or is revoked. Every answer is judged by the user's SessionTruth; the run reports the counts.
import { setTimeout as sleep } from 'node:timers/promises';
import { prng } from '@vigil/core/conformance';
import { LoopbackClient, type Reply } from './loopback-client.js';
import {
  type Action,
  type JudgeOptions,
  type PolicyTimes,
  SessionTruth,
  type Violation,
} from './session-truth.js';

export interface OracleOptions {
  url: string;
  apiKey: string;
  policies: readonly PolicyTimes[];
  users: number;
  durationMs: number;
  /** Most requests in flight at once (the users beyond wait their turn; their clocks start when sent). */
  maxInFlight?: number;
  judge?: JudgeOptions;
  /** Seeded randomness, so a failing run can be replayed with the same choices. */
  seed?: number;
  /** Told each new session's token (a fault drill aims hostile requests at live sessions). */
  onSessionCreated?: (token: string) => void;
  /** Called every few seconds with the counts so far (long runs). */
  onProgress?: (report: OracleReport) => void;
}

export interface OracleReport {
  users: number;
  durationMs: number;
  requests: number;
  sessionsCreated: number;
  byAction: Record<string, number>;
  /** `200`, `204`, `401 idle_timeout`, `503 store_unavailable`, … */
  outcomes: Record<string, number>;
  /** Requests sent within 250 ms of a deadline: the ones that test the boundary. */
  closeCalls: number;
  violations: Record<string, number>;
  /** The first violations, in full, for the failure message. */
  examples: Violation[];
  /** Latency of the answers (ms), for the report only. */
  latencyMs: { p50: number; p99: number; max: number };
}

const MAX_EXAMPLES = 20;

export async function runOracle(options: OracleOptions): Promise<OracleReport> {
  const { url, apiKey, policies, users, durationMs, judge = {} } = options;
  const client = new LoopbackClient(url, options.maxInFlight ?? 48);
  const rand = prng(options.seed ?? 1);
  const between = (lo: number, hi: number) => lo + rand() * (hi - lo);
  const pick = <V>(weighted: [V, number][]): V => {
    let r = rand() * weighted.reduce((sum, [, w]) => sum + w, 0);
    for (const [value, weight] of weighted) {
      r -= weight;
      if (r <= 0) return value;
    }
    return (weighted.at(-1) as [V, number])[0];
  };

  const report: OracleReport = {
    users,
    durationMs,
    requests: 0,
    sessionsCreated: 0,
    byAction: {},
    outcomes: {},
    closeCalls: 0,
    violations: {},
    examples: [],
    latencyMs: { p50: 0, p99: 0, max: 0 },
  };
  const latencies: number[] = [];
  const count = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };
  const note = (reply: Reply) => {
    report.requests++;
    latencies.push(reply.answeredAt - reply.sentAt);
  };
  const startedAt = Date.now();
  const endsAt = startedAt + durationMs;
  const running = () => Date.now() < endsAt;

  const admin = { authorization: `Bearer ${apiKey}` };

  async function signIn(user: number): Promise<SessionTruth | null> {
    const policy = policies[user % policies.length] as PolicyTimes;
    const subject = `user-${user}`;
    const reply = await client.request('POST', '/v1/sessions', {
      headers: admin,
      json: { subject, policy: policy.name, ...(rand() < 0.3 && { attributes: { tab: user % 7 } }) },
    });
    note(reply);
    count(report.byAction, 'create');
    count(
      report.outcomes,
      `${reply.status}${reply.status === 201 ? '' : ` ${reply.body?.error?.code ?? ''}`}`,
    );
    if (reply.status !== 201) {
      const unavailable = reply.status === 503 && reply.body?.error?.code === 'store_unavailable';
      if (!(unavailable && judge.tolerateUnavailable)) {
        record({
          kind: 'unexpected_answer',
          action: 'create',
          sessionId: '(create)',
          detail: `create: ${reply.status} ${JSON.stringify(reply.body)?.slice(0, 200)}`,
        });
      }
      return null;
    }
    report.sessionsCreated++;
    const session = reply.body.session;
    const truth = new SessionTruth(policy, session.id, subject, reply.sentAt, reply.answeredAt);
    if (
      typeof reply.body.token !== 'string' ||
      session.subject !== subject ||
      session.policy !== policy.name
    ) {
      record({
        kind: 'inconsistent_status',
        action: 'create',
        sessionId: session.id,
        detail: 'create: body',
      });
    }
    tokens.set(truth, reply.body.token);
    options.onSessionCreated?.(reply.body.token);
    return truth;
  }

  const tokens = new WeakMap<SessionTruth, string>();

  function record(violation: Violation): void {
    count(report.violations, violation.kind);
    if (report.examples.length < MAX_EXAMPLES) report.examples.push(violation);
  }

  async function act(truth: SessionTruth, action: Action): Promise<boolean> {
    const token = tokens.get(truth) as string;
    const bearer = { authorization: `Bearer ${token}` };
    let reply: Reply;
    switch (action) {
      case 'heartbeat_active':
      case 'heartbeat_sleeping':
        reply = await client.request('POST', '/v1/heartbeat', {
          headers: bearer,
          json: { state: action === 'heartbeat_active' ? 'active' : 'sleeping' },
        });
        break;
      case 'authorize_active':
        reply = await client.request('GET', '/v1/authorize', {
          headers: { ...bearer, 'x-original-uri': '/app/page' },
        });
        break;
      case 'authorize_passive':
        reply = await client.request('GET', '/v1/authorize', {
          headers: { ...bearer, 'x-original-uri': '/app/poll', 'x-vigil-activity': 'passive' },
        });
        break;
      case 'read':
        reply = await client.request('GET', '/v1/session', { headers: bearer });
        break;
      case 'logout':
        reply = await client.request('DELETE', '/v1/session', { headers: bearer });
        break;
      case 'revoke':
        reply = await client.request('DELETE', `/v1/sessions/${encodeURIComponent(truth.id)}`, {
          headers: admin,
        });
        break;
    }
    note(reply);
    count(report.byAction, action);
    const retryAfter = reply.headers['retry-after'];
    const verdict = truth.judge(
      {
        action,
        sentAt: reply.sentAt,
        answeredAt: reply.answeredAt,
        status: reply.status,
        body: reply.body,
        retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      },
      judge,
    );
    count(report.outcomes, verdict.outcome);
    if (verdict.closeCall) report.closeCalls++;
    for (const v of verdict.violations) record(v);
    if (
      reply.status === 200 &&
      action.startsWith('authorize') &&
      reply.headers['x-vigil-session'] !== truth.id
    ) {
      record({ kind: 'inconsistent_status', action, sessionId: truth.id, detail: 'X-Vigil-Session header' });
    }
    return verdict.ended;
  }

  /** Waits `ms`, cut short when the run ends. */
  const pause = (ms: number) => sleep(Math.max(0, Math.min(ms, endsAt - Date.now())));

  async function activePeriod(truth: SessionTruth): Promise<boolean> {
    const interval = truth.policy.heartbeatIntervalMs;
    for (let steps = Math.floor(between(2, 9)); steps > 0 && running(); steps--) {
      const action = pick<Action>([
        ['heartbeat_active', 6],
        ['authorize_active', 3],
        ['read', 1],
      ]);
      // A page load is several forwarded requests at once: their touches coalesce.
      const burst = action === 'authorize_active' && rand() < 0.5 ? Math.floor(between(2, 5)) : 1;
      for (let i = 0; i < burst; i++) if (await act(truth, action)) return true;
      await pause(between(0.3, 1) * interval);
    }
    return false;
  }

  async function sleepingPeriod(truth: SessionTruth): Promise<boolean> {
    const interval = truth.policy.heartbeatIntervalMs;
    for (let steps = Math.floor(between(2, 9)); steps > 0 && running(); steps--) {
      const action = pick<Action>([
        ['heartbeat_sleeping', 5],
        ['authorize_passive', 3],
        ['read', 2],
      ]);
      if (await act(truth, action)) return true;
      await pause(between(0.3, 1.2) * interval);
    }
    return false;
  }

  async function idlePeriod(truth: SessionTruth): Promise<boolean> {
    // Half the time, come back right around the deadline: that is where a bug would show.
    const aroundDeadline = rand() < 0.5;
    const target = aroundDeadline
      ? between(truth.earliestEnd - 400, truth.latestEnd + 400)
      : Date.now() + between(0.2, 1.5) * truth.policy.idleMs;
    await pause(target - Date.now());
    if (!running()) return false;
    const action = pick<Action>([
      ['heartbeat_active', 3],
      ['heartbeat_sleeping', 2],
      ['authorize_active', 2],
      ['authorize_passive', 1],
      ['read', 2],
    ]);
    return act(truth, action);
  }

  async function user(index: number): Promise<void> {
    await pause(between(0, Math.min(1500, durationMs / 4)));
    while (running()) {
      const truth = await signIn(index);
      if (truth === null) {
        await pause(between(100, 500));
        continue;
      }
      let ended = false;
      while (!ended && running()) {
        const period = pick<'active' | 'sleeping' | 'idle' | 'end'>([
          ['active', 10],
          ['sleeping', 4],
          ['idle', 5],
          ['end', 1],
        ]);
        if (period === 'active') ended = await activePeriod(truth);
        else if (period === 'sleeping') ended = await sleepingPeriod(truth);
        else if (period === 'idle') ended = await idlePeriod(truth);
        else ended = await act(truth, rand() < 0.5 ? 'logout' : 'revoke');
      }
      // Once ended, it stays ended: sometimes check that, then sign in again.
      if (ended && running() && rand() < 0.3) {
        await act(
          truth,
          pick<Action>([
            ['heartbeat_active', 2],
            ['authorize_active', 1],
            ['read', 1],
          ]),
        );
      }
      await pause(between(0, 500));
    }
  }

  const progress =
    options.onProgress === undefined
      ? undefined
      : setInterval(() => options.onProgress?.(finish(report, latencies, Date.now() - startedAt)), 10_000);
  try {
    await Promise.all(Array.from({ length: users }, (_, i) => user(i)));
  } finally {
    if (progress !== undefined) clearInterval(progress);
    client.close();
  }
  return finish(report, latencies, Date.now() - startedAt);
}

function finish(report: OracleReport, latencies: number[], elapsedMs: number): OracleReport {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return {
    ...report,
    durationMs: elapsedMs,
    latencyMs: { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 },
  };
}

/** The report as a few lines for people (test diagnostics, the long run's output). */
export function formatReport(name: string, r: OracleReport): string[] {
  const total = Object.values(r.violations).reduce((a, b) => a + b, 0);
  const sorted = (m: Record<string, number>) =>
    Object.entries(m)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
  return [
    `${name}: ${r.users} users, ${(r.durationMs / 1000).toFixed(1)} s, ${r.requests} requests (${Math.round((r.requests * 1000) / r.durationMs)}/s), ${r.sessionsCreated} sessions`,
    `${name}: answers ${sorted(r.outcomes)}`,
    `${name}: actions ${sorted(r.byAction)}`,
    `${name}: ${r.closeCalls} requests within 250 ms of a deadline; latency p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms, max ${r.latencyMs.max} ms`,
    `${name}: violations ${total}${total > 0 ? ` (${sorted(r.violations)})` : ' (zombies 0, wrongful logouts 0)'}`,
  ];
}
