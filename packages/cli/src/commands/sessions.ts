import { parseArgs } from 'node:util';
import type { AdminSessionView } from '@vigil/core';
import { AdminClient, EXIT } from '../admin-client.js';
import { CliError, type Io } from '../io.js';
import { formatTable, seconds, utc } from '../table.js';
import { SESSIONS_USAGE } from '../usage.js';

export const SERVER_OPTIONS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `vigil sessions list --subject S | revoke ID | revoke-all --subject S`, against a running server. */
/** A session ID: a SHA-256 in base64url, which begins with `-` one time in 64. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const TAKES_VALUE = new Set(['--url', '--api-key', '--subject']);

/**
 * Moves session IDs that begin with `-` behind `--`, where `parseArgs` takes them as operands, not
 * as a cluster of unknown short options (an ID copied from `sessions list` must just work).
 */
function operandsFirst(args: string[]): string[] {
  const end = args.indexOf('--');
  const head = end === -1 ? args : args.slice(0, end);
  const tail = end === -1 ? [] : args.slice(end + 1);
  const isId = (arg: string, i: number) =>
    arg.startsWith('-') && SESSION_ID.test(arg) && !TAKES_VALUE.has(head[i - 1] ?? '');
  if (!head.some(isId)) return args;
  return [...head.filter((arg, i) => !isId(arg, i)), '--', ...head.filter(isId), ...tail];
}

export async function sessions(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: operandsFirst(args),
    options: { ...SERVER_OPTIONS, subject: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(`${SESSIONS_USAGE}\n`);
    return EXIT.ok;
  }
  const [action, ...operands] = positionals;
  const usage = (problem: string) => new CliError(`${problem}\n\n${SESSIONS_USAGE}`, EXIT.usage);
  const subject = () => {
    if (operands.length > 0) throw usage(`unexpected argument "${operands[0]}"`);
    if (values.subject === undefined || values.subject === '') throw usage(`${action} needs --subject S`);
    return values.subject;
  };
  switch (action) {
    case 'list':
      return list(AdminClient.fromFlags(values, io), subject(), values.json, io);
    case 'revoke': {
      const [id, extra] = operands;
      if (id === undefined || id === '') throw usage('revoke needs the session ID');
      if (extra !== undefined) throw usage(`unexpected argument "${extra}"`);
      if (values.subject !== undefined) throw usage('revoke takes an ID, not --subject (see revoke-all)');
      return revoke(AdminClient.fromFlags(values, io), id, values.json, io);
    }
    case 'revoke-all':
      return revokeAll(AdminClient.fromFlags(values, io), subject(), values.json, io);
    case undefined:
      throw usage('which one: list, revoke or revoke-all?');
    default:
      throw usage(`unknown sessions command "${action}"`);
  }
}

/** The part of `GET /v1/stats` that says when each policy warns. */
interface PolicyWarnings {
  serverTime: string;
  policies: Array<{ name: string; warnBeforeMs: number }>;
}

async function list(client: AdminClient, subject: string, json: boolean, io: Io): Promise<number> {
  const query = new URLSearchParams({ subject });
  const { body } = await client.call<{ sessions: AdminSessionView[] }>('GET', `/v1/sessions?${query}`);
  if (json) {
    io.stdout(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT.ok;
  }
  if (body.sessions.length === 0) {
    io.stdout(`${subject} has no sessions.\n`);
    return EXIT.ok;
  }
  // The admin view has no state: a live session is in its warning period once its end is nearer
  // than its policy's warnBefore, as `vigil stats` counts it.
  const { body: stats } = await client.call<PolicyWarnings>('GET', '/v1/stats');
  // Counted on the server's clock, to the ms (its Date header has whole seconds only).
  const serverNow = Date.parse(stats.serverTime);
  const warnBefore = new Map(stats.policies.map((policy) => [policy.name, policy.warnBeforeMs]));
  const rows = body.sessions.map((session) => {
    const endsAt = Math.min(Date.parse(session.idleExpiresAt), Date.parse(session.absoluteExpiresAt));
    const ended = session.endedAt !== undefined;
    const warning = endsAt - serverNow <= (warnBefore.get(session.policy) ?? 0);
    return [
      session.id,
      session.policy,
      ended ? `ended: ${session.reason ?? 'unknown'}` : warning ? 'warning' : 'active',
      utc(session.createdAt),
      utc(session.lastActivityAt),
      ended ? utc(session.endedAt ?? '') : `in ${seconds(endsAt - serverNow)}`,
    ];
  });
  const live = body.sessions.filter((session) => session.endedAt === undefined).length;
  io.stdout(
    `${formatTable(['ID', 'POLICY', 'STATE', 'CREATED (UTC)', 'LAST ACTIVITY (UTC)', 'ENDS / ENDED (UTC)'], rows)}\n` +
      `${subject}: ${live} live, ${rows.length - live} ended (kept for the retention period)\n`,
  );
  return EXIT.ok;
}

async function revoke(client: AdminClient, id: string, json: boolean, io: Io): Promise<number> {
  try {
    await client.call('DELETE', `/v1/sessions/${encodeURIComponent(id)}`, 'no-such-session');
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.notFound) {
      throw new CliError(`no session with ID "${id}" (unknown, or ended and purged)`, EXIT.notFound);
    }
    throw error;
  }
  io.stdout(json ? `${JSON.stringify({ id, revoked: true })}\n` : `Revoked session ${id}.\n`);
  return EXIT.ok;
}

async function revokeAll(client: AdminClient, subject: string, json: boolean, io: Io): Promise<number> {
  // A URL parser drops a path segment that is `.` or `..`, escaped or not: the request would reach
  // another route. Such a subject's sessions can still be listed and revoked one by one.
  if (subject === '.' || subject === '..') {
    throw new CliError(
      `no URL can name the subject "${subject}" in a path; revoke its sessions one by one (sessions list, then sessions revoke ID)`,
      EXIT.usage,
    );
  }
  const path = `/v1/subjects/${encodeURIComponent(subject)}/sessions`;
  const { body } = await client.call<{ revoked: number }>('DELETE', path);
  io.stdout(
    json
      ? `${JSON.stringify({ subject, revoked: body.revoked })}\n`
      : `Revoked ${body.revoked} live session${body.revoked === 1 ? '' : 's'} of ${subject}.\n`,
  );
  return EXIT.ok;
}
