import { parseArgs } from 'node:util';
import { AdminClient, EXIT } from '../admin-client.js';
import { CliError, type Io } from '../io.js';
import { formatTable, seconds, utc } from '../table.js';
import { STATS_USAGE } from '../usage.js';
import { SERVER_OPTIONS } from './sessions.js';

/** The parts of `GET /v1/stats` shown here (the full shape is in the OpenAPI document). */
interface StatsBody {
  serverTime: string;
  startedAt: string;
  live: { total: number; byPolicy: Array<{ policy: string; active: number; warning: number }> };
  totals: {
    created: number;
    heartbeats: { active: number; sleeping: number };
    ended: Record<string, number>;
  };
  recent: { bucketMs: number; heartbeats: number[]; expired: number[]; revoked: number[] };
}

/** `vigil stats`: live sessions by policy and state, and what happened since the server started. */
export async function stats(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: SERVER_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.stdout(`${STATS_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new CliError(`unexpected argument "${positionals[0]}"\n\n${STATS_USAGE}`, EXIT.usage);
  const { body } = await AdminClient.fromFlags(values, io).call<StatsBody>('GET', '/v1/stats');
  if (values.json) {
    io.stdout(`${JSON.stringify(body, null, 2)}\n`);
    return EXIT.ok;
  }
  io.stdout(`${describe(body)}\n`);
  return EXIT.ok;
}

function describe(body: StatsBody): string {
  const sum = (values: number[]) => values.reduce((total, n) => total + n, 0);
  const { live, totals, recent } = body;
  const active = sum(live.byPolicy.map((row) => row.active));
  const warning = sum(live.byPolicy.map((row) => row.warning));
  // Policies with nothing live (unused presets) are left out; the total covers everything.
  const rows = live.byPolicy
    .filter((row) => row.active + row.warning > 0)
    .map((row) => [row.policy, String(row.active), String(row.warning), String(row.active + row.warning)]);
  const ended = Object.entries(totals.ended).filter(([, count]) => count > 0);
  const heartbeats = totals.heartbeats.active + totals.heartbeats.sleeping;
  const uptime = Date.parse(body.serverTime) - Date.parse(body.startedAt);
  return [
    `Live sessions: ${live.total} (${active} active, ${warning} in their warning period)`,
    ...(rows.length === 0
      ? []
      : ['', formatTable(['POLICY', 'ACTIVE', 'WARNING', 'TOTAL'], rows, new Set([1, 2, 3]))]),
    '',
    `Since ${utc(body.startedAt)} UTC (up ${seconds(uptime)}):`,
    `  created     ${totals.created}`,
    `  heartbeats  ${heartbeats} (${totals.heartbeats.active} active, ${totals.heartbeats.sleeping} sleeping)`,
    `  ended       ${sum(ended.map(([, count]) => count))}${
      ended.length === 0 ? '' : ` (${ended.map(([reason, count]) => `${reason} ${count}`).join(', ')})`
    }`,
    `Last hour: ${sum(recent.heartbeats)} heartbeats, ${sum(recent.expired)} expired, ${sum(recent.revoked)} ended otherwise`,
  ].join('\n');
}
