// The disk under SQLite fills up while `vigil serve` is under load: writes must fail as clear
// `503 store_unavailable` JSON answers (never 401, never a crash, no stack trace), reads and coalesced
// touches may go on, nothing acknowledged before is lost, and once space is free again the server
// serves without a restart. Then the same with a SIGKILL while the disk is full, and SQLite's own
// integrity check on the file.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { API_KEY, type RunningVigil, startVigil, writeJson } from '../helpers.js';
import { LoopbackClient, type Reply } from '../oracle/loopback-client.js';
import type { Scope } from '../support/stores.js';
import { type KnownSession, Ledger } from './ledger.js';
import { mountSmallDisk } from './small-disk.js';
import { integrityCheck } from './sqlite-files.js';

export interface DiskFullOptions {
  /** Rounds of fill → load → free, each checked; the last one ends with a SIGKILL while full. */
  rounds: number;
  /** Load while the disk is full, per round (ms). */
  fullForMs: number;
  workers: number;
  log?: (line: string) => void;
}

export interface DiskFullFigures {
  /** Answers while the disk was full (all rounds), e.g. `{"503 store_unavailable": 840, "200": 400}`. */
  whileFull: Record<string, number>;
  /** `/readyz` statuses seen while full. */
  readyz: Record<string, number>;
  /** From freeing the space to the first acknowledged creation, per round (ms). */
  recoveryMs: number[];
  ledger: Ledger['counts'];
  integrity: string;
}

const admin = { authorization: `Bearer ${API_KEY}` };
/** Attributes near the 4 KB limit, so that creations need fresh pages. */
const BULKY = { note: 'x'.repeat(3000) };
const STACK_LINE = /\n\s+at /;

export async function diskFullDrill(scope: Scope, options: DiskFullOptions): Promise<DiskFullFigures> {
  const disk = mountSmallDisk(scope, 4 * 1024 * 1024);
  const dbPath = join(disk.dir, 'vigil.db');
  const config = writeJson(disk.dir, 'vigil.json', {
    policies: { default: { idleTimeout: '1h', absoluteTimeout: '8h' } },
    heartbeatRateLimit: { burst: 100_000, perSecond: 100_000 },
  });
  const args = ['--store', `sqlite:${dbPath}`, '--config', config];
  const ledger = new Ledger();
  const figures: DiskFullFigures = {
    whileFull: {},
    readyz: {},
    recoveryMs: [],
    ledger: ledger.counts,
    integrity: '',
  };
  const problems: string[] = [];
  let server: RunningVigil = await startVigil(scope, args);
  let client = new LoopbackClient(server.url, options.workers);
  let serial = 0;

  const create = async (): Promise<Reply> => {
    const subject = `user-${serial++ % 40}`;
    const reply = await client.request('POST', '/v1/sessions', {
      headers: admin,
      json: { subject, attributes: BULKY },
    });
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
    }
    return reply;
  };

  // Before the disk fills: sessions to keep, some of them revoked.
  for (let i = 0; i < 40; i++) assert.equal((await create()).status, 201);
  for (const s of ledger.sessions.slice(0, 10)) {
    assert.equal((await client.request('DELETE', `/v1/sessions/${s.id}`, { headers: admin })).status, 204);
    s.ended = 'revoked';
  }

  /** Every answer while full: the expected success, or a clean 503; never anything else. */
  let thisRound: Record<string, number> = {};
  const judge = (what: string, reply: Reply, session?: KnownSession) => {
    const key = reply.status === 503 ? `503 ${reply.body?.error?.code}` : String(reply.status);
    figures.whileFull[key] = (figures.whileFull[key] ?? 0) + 1;
    thisRound[key] = (thisRound[key] ?? 0) + 1;
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? '');
    if (STACK_LINE.test(text) || /"stack"/.test(text)) problems.push(`${what}: a stack trace in the answer`);
    if (reply.status === 503) {
      if (reply.body?.error?.code !== 'store_unavailable' || typeof reply.body.error.message !== 'string') {
        problems.push(`${what}: 503 without a store_unavailable JSON error: ${text.slice(0, 200)}`);
      }
      if (!(Number(reply.headers['retry-after']) >= 1)) problems.push(`${what}: 503 without Retry-After`);
      return;
    }
    if (reply.status === 401 && session !== undefined) {
      const { must, may } = ledger.expected(session);
      const reason = reply.body?.error?.reason;
      if (reason !== must && !may.has(reason)) problems.push(`${what}: 401 ${reason}, expected ${must}`);
      return;
    }
    const expected: Record<string, number[]> = {
      create: [201],
      revoke: [204],
      heartbeat: [200],
      read: [200],
    };
    if (!(expected[what] ?? []).includes(reply.status))
      problems.push(`${what}: ${reply.status} ${text.slice(0, 200)}`);
  };

  const load = async (forMs: number) => {
    const until = Date.now() + forMs;
    await Promise.all(
      Array.from({ length: options.workers }, async (_, worker) => {
        while (Date.now() < until) {
          const roll = Math.random();
          const session = ledger.sessions[Math.floor(Math.random() * ledger.sessions.length)] as KnownSession;
          if (roll < 0.4) {
            judge('create', await create());
          } else if (roll < 0.5 && session.ended === null && !session.ending) {
            session.ending = true;
            const reply = await client.request('DELETE', `/v1/sessions/${session.id}`, { headers: admin });
            session.ending = false;
            if (reply.status === 204) session.ended = 'revoked';
            else session.maybeEnded.add('revoked');
            judge('revoke', reply, session);
          } else if (roll < 0.8) {
            const reply = await client.request('POST', '/v1/heartbeat', {
              headers: { authorization: `Bearer ${session.token}` },
              json: { state: 'active' },
            });
            judge('heartbeat', reply, session);
          } else {
            const reply = await client.request('GET', '/v1/session', {
              headers: { authorization: `Bearer ${session.token}` },
            });
            judge('read', reply, session);
          }
          if (worker === 0 && roll < 0.05) {
            const readyz = await client.request('GET', '/readyz');
            figures.readyz[readyz.status] = (figures.readyz[readyz.status] ?? 0) + 1;
          }
        }
      }),
    );
  };

  for (let round = 0; round < options.rounds; round++) {
    const filler = disk.fill();
    thisRound = {};
    await load(options.fullForMs);
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} bad answers while the disk was full`);
    assert.equal(server.child.exitCode, null, `the server exited: ${server.output()}`);
    const last = round === options.rounds - 1;
    if (last) {
      // Killed while the disk is full: whatever SQLite had half-written must not hurt.
      await server.stop('SIGKILL');
      client.close();
      disk.free();
      server = await startVigil(scope, args);
      client = new LoopbackClient(server.url, options.workers);
    } else {
      disk.free();
    }
    const freedAt = Date.now();
    let created = false;
    while (!created && Date.now() - freedAt < 5000) {
      created = (await create()).status === 201;
      if (!created) await sleep(50);
    }
    assert.ok(created, 'creations succeed again within 5 s of the space coming back, without a restart');
    figures.recoveryMs.push(Date.now() - freedAt);
    const verified = await ledger.verify(client);
    options.log?.(
      `round ${round + 1}/${options.rounds}: filler ${filler} bytes; while full ${JSON.stringify(thisRound)}; ` +
        `${last ? 'SIGKILL while full, restarted; ' : ''}serving ${figures.recoveryMs.at(-1)} ms after the space came back; ` +
        `every acknowledged change intact (${JSON.stringify(verified)})`,
    );
  }
  client.close();
  assert.equal((await server.stop('SIGTERM')).code, 0, server.output());
  figures.integrity = integrityCheck(dbPath);
  figures.ledger = ledger.counts;
  return figures;
}
