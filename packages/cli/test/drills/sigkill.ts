// SIGKILL of `vigil serve` on SQLite in the middle of load, restart on the same file, and check that
// every acknowledged creation, logout, revocation and log-out-everywhere survived — across all the
// crashes so far, not only the last one. SIGKILL gives the process no chance to flush anything: what
// survives was durable before the answer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_KEY, type RunningVigil, startVigil, tempDir, writeJson } from '../helpers.js';
import { LoopbackClient } from '../oracle/loopback-client.js';
import type { Scope } from '../support/stores.js';
import { type KnownSession, Ledger } from './ledger.js';
import { integrityCheck } from './sqlite-files.js';

export interface SigkillOptions {
  cycles: number;
  /** Concurrent client loops during the load. */
  workers: number;
  /** The kill comes at a random moment within this range after the load started (ms). */
  killAfterMs: [number, number];
  log?: (line: string) => void;
}

export interface SigkillFigures {
  cycles: number;
  /** Requests answered, and requests in flight at a kill (no answer ever came). */
  answered: number;
  cutOff: number;
  counts: Ledger['counts'];
  /** From SIGKILL to the new process listening, per cycle (ms). */
  restartMs: number[];
  verified: { alive: number; ended: number };
  integrity: string;
}

const admin = { authorization: `Bearer ${API_KEY}` };

export async function sigkillDrill(scope: Scope, options: SigkillOptions): Promise<SigkillFigures> {
  const dir = tempDir(scope);
  const dbPath = join(dir, 'vigil.db');
  // Long timeouts: every session stays alive unless ended on purpose, so each has one right answer.
  const config = writeJson(dir, 'vigil.json', {
    policies: { default: { idleTimeout: '1h', absoluteTimeout: '8h' } },
    heartbeatRateLimit: { burst: 100_000, perSecond: 100_000 },
  });
  const args = ['--store', `sqlite:${dbPath}`, '--config', config];
  const ledger = new Ledger();
  const figures: SigkillFigures = {
    cycles: options.cycles,
    answered: 0,
    cutOff: 0,
    counts: ledger.counts,
    restartMs: [],
    verified: { alive: 0, ended: 0 },
    integrity: '',
  };
  let server: RunningVigil = await startVigil(scope, args);
  let serial = 0;

  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const client = new LoopbackClient(server.url, options.workers);
    let running = true;
    const pickLive = (): KnownSession | undefined => {
      for (let tries = 0; tries < 5; tries++) {
        const s = ledger.sessions[Math.floor(Math.random() * ledger.sessions.length)];
        if (s !== undefined && s.ended === null && !s.ending && s.maybeEnded.size === 0) return s;
      }
      return undefined;
    };

    // One step of load: mostly creations (the acknowledgements to keep), then ends and heartbeats.
    const step = async (): Promise<void> => {
      const roll = Math.random();
      if (roll < 0.45 || ledger.sessions.length < 20) {
        const subject = `user-${serial++ % 60}`;
        const reply = await client.request('POST', '/v1/sessions', { headers: admin, json: { subject } });
        if (reply.status === 201) {
          ledger.sessions.push({
            id: reply.body.session.id,
            token: reply.body.token,
            subject,
            createdAt: reply.answeredAt,
            ended: null,
            maybeEnded: new Set(),
            ending: false,
          });
          figures.answered++;
        } else if (reply.status === 0) {
          ledger.unknownCreations++;
          figures.cutOff++;
        } else {
          assert.fail(`create: ${reply.status} ${JSON.stringify(reply.body)}`);
        }
        return;
      }
      if (roll < 0.75) {
        const session = pickLive();
        if (session === undefined) return;
        const reason = Math.random() < 0.5 ? 'logout' : 'revoked';
        session.ending = true;
        const reply =
          reason === 'logout'
            ? await client.request('DELETE', '/v1/session', {
                headers: { authorization: `Bearer ${session.token}` },
              })
            : await client.request('DELETE', `/v1/sessions/${encodeURIComponent(session.id)}`, {
                headers: admin,
              });
        session.ending = false;
        if (reply.status === 204) {
          session.ended = reason;
          figures.answered++;
        } else if (reply.status === 0) {
          session.maybeEnded.add(reason);
          figures.cutOff++;
        } else if (reply.status === 401 && reason === 'logout') {
          figures.answered++; // ended meanwhile by a log-out-everywhere: its reason is checked later
        } else {
          assert.fail(`${reason}: ${reply.status} ${JSON.stringify(reply.body)}`);
        }
        return;
      }
      if (roll < 0.8) {
        const subject = `user-${Math.floor(Math.random() * 60)}`;
        const entry = { subject, sentAt: Date.now(), acknowledged: false };
        ledger.revokeAlls.push(entry);
        const reply = await client.request('DELETE', `/v1/subjects/${subject}/sessions`, { headers: admin });
        if (reply.status === 200) {
          entry.acknowledged = true;
          figures.answered++;
        } else if (reply.status === 0) {
          figures.cutOff++;
        } else {
          assert.fail(`revoke-all: ${reply.status} ${JSON.stringify(reply.body)}`);
        }
        return;
      }
      const session = pickLive();
      if (session === undefined) return;
      const reply = await client.request('POST', '/v1/heartbeat', {
        headers: { authorization: `Bearer ${session.token}` },
        json: { state: 'active' },
      });
      if (reply.status === 0) figures.cutOff++;
      else figures.answered++;
    };

    const loops = Array.from({ length: options.workers }, async () => {
      while (running) await step();
    });
    const [lo, hi] = options.killAfterMs;
    await sleep(lo + Math.random() * (hi - lo));
    // No new requests from here: the ones in flight are cut off by the kill (their answers never come).
    running = false;
    const killedAt = Date.now();
    const killed = await server.stop('SIGKILL');
    assert.equal(killed.signal, 'SIGKILL');
    await Promise.all(loops);
    client.close();

    server = await startVigil(scope, args);
    figures.restartMs.push(Date.now() - killedAt);
    const checker = new LoopbackClient(server.url, 16);
    figures.verified = await ledger.verify(checker);
    checker.close();
    options.log?.(
      `cycle ${cycle + 1}/${options.cycles}: ${JSON.stringify(ledger.counts)}; restarted in ${figures.restartMs.at(-1)} ms; all acknowledged changes intact`,
    );
  }

  assert.equal((await server.stop('SIGTERM')).code, 0, server.output());
  figures.integrity = integrityCheck(dbPath);
  figures.counts = ledger.counts;
  return figures;
}
