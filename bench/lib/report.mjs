// The Markdown of a bench run (bench/results/latest.md and the README section), from its JSON.

const fmt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const ratio = (a, b) => (a === null || b === null || b === 0 ? '–' : (a / b).toFixed(2));

function throughputTable(rows) {
  return [
    '| target | requests/s | p50 (ms) | p99 (ms) | CPU per request, server + its store (µs) | × bare Fastify | unexpected answers |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.requestsPerSecond)} | ${r.p50Ms} | ${r.p99Ms} | ${fmt(r.serverCpuMicrosPerRequest)} | ${r.ratioToBare.toFixed(2)} | ${r.unexpected} |`,
    ),
  ].join('\n');
}

function redisSection(results) {
  const { redis, throughput, versions } = results;
  if (redis === null) return '';
  const vigil = throughput.find((r) => r.key === 'redis');
  const express = throughput.find((r) => r.key === 'express');
  const verdict = redis.targetMet
    ? 'met'
    : `not met (${redis.vigilToExpress}×${redis.p99.vigil <= redis.p99.express ? '' : `, p99 ${redis.p99.vigil} ms vs ${redis.p99.express} ms`})`;
  const { vigil: vm, connectRedis: cm } = redis.memory;
  return `
**Redis** (one \`redis-server\` ${versions['redis-server']}, persistence off, shared by both systems):

| | Vigil | express-session + connect-redis | Vigil ÷ express-session |
|---|---:|---:|---:|
| heartbeats/s, ${fmt(results.settings.sessions)} sessions, every one written | ${fmt(vigil.requestsPerSecond)} | ${fmt(express.requestsPerSecond)} | ${redis.vigilToExpress.toFixed(2)} |
| p99 (ms) | ${vigil.p99Ms} | ${express.p99Ms} | |
| CPU per heartbeat, server + Redis (µs) | ${fmt(vigil.serverCpuMicrosPerRequest)} | ${fmt(express.serverCpuMicrosPerRequest)} | ${ratio(vigil.serverCpuMicrosPerRequest, express.serverCpuMicrosPerRequest)} |
| share of \`redis-benchmark\` SET (${fmt(redis.redisBenchmark.SET)}/s; GET ${fmt(redis.redisBenchmark.GET)}/s) | ${((100 * vigil.requestsPerSecond) / redis.redisBenchmark.SET).toFixed(1)} % | ${((100 * express.requestsPerSecond) / redis.redisBenchmark.SET).toFixed(1)} % | |
| bytes per live session in Redis (${fmt(vm.sessions)} sessions) | ${fmt(vm.bytesPerSession)} | ${fmt(cm.bytesPerSession)} | ${ratio(vm.bytesPerSession, cm.bytesPerSession)} |
| keys per live session | ${vm.keysPerSession} | ${cm.keysPerSession} | |

Target (issue 4: 3× express-session + connect-redis or more, at a p99 no worse): **${verdict}**.
`;
}

function memorySection(results) {
  const { inProcess, onDisk } = results.memory;
  const v = inProcess.vigil;
  const e = inProcess.expressSession;
  const redis = results.redis?.memory;
  const lines = [
    '| memory per live session | Vigil | express-session | Vigil ÷ express-session |',
    '|---|---:|---:|---:|',
    `| memory store, RSS growth (${fmt(v.sessions)} sessions) | ${fmt(v.rssBytesPerSession)} B | ${fmt(e.rssBytesPerSession)} B (MemoryStore) | ${ratio(v.rssBytesPerSession, e.rssBytesPerSession)} |`,
    `| memory store, heap + external growth | ${fmt(v.heapBytesPerSession)} B | ${fmt(e.heapBytesPerSession)} B | ${ratio(v.heapBytesPerSession, e.heapBytesPerSession)} |`,
    `| memory store, process RSS with them | ${fmt(v.rssAfterMiB)} MiB | ${fmt(e.rssAfterMiB)} MiB | |`,
  ];
  if (redis) {
    lines.push(
      `| Redis, \`used_memory\` growth (${fmt(redis.vigil.sessions)} sessions) | ${fmt(redis.vigil.bytesPerSession)} B | ${fmt(redis.connectRedis.bytesPerSession)} B (connect-redis) | ${ratio(redis.vigil.bytesPerSession, redis.connectRedis.bytesPerSession)} |`,
    );
  }
  lines.push(
    `| SQLite, file growth after VACUUM (${fmt(onDisk.sqlite.sessions)} sessions) | ${fmt(onDisk.sqlite.bytesPerSession)} B | | |`,
  );
  if (onDisk.postgres) {
    lines.push(
      `| PostgreSQL, tables + indexes after VACUUM (${fmt(onDisk.postgres.sessions)} sessions) | ${fmt(onDisk.postgres.bytesPerSession)} B, ${onDisk.postgres.rowsPerSession} row | | |`,
    );
  }
  const met = v.rssBytesPerSession < 300 && v.heapBytesPerSession < 300;
  const verdict =
    v.sessions >= 1_000_000
      ? `**${met ? 'met' : 'not met'}**`
      : `not judged here (${fmt(v.sessions)} sessions: the process's fixed costs weigh on each; the full run uses 1,000,000)`;
  return `${lines.join('\n')}

Target (issue 7: under 300 bytes per live session in the memory store, RSS and heap): ${verdict}.`;
}

function expirySection(expiry) {
  return [
    '| store | live sessions | expired this round | sweeper round (ms) | per expired session (µs) | next round, nothing due (ms) |',
    '|---|---:|---:|---:|---:|---:|',
    ...expiry.map(
      (e) =>
        `| ${e.store} | ${fmt(e.live)} | ${fmt(e.due)} | ${e.round.wallMs} | ${e.microsPerExpired} | ${e.idleRound.wallMs} |`,
    ),
  ].join('\n');
}

/** Issue 3: the main export smaller than react-idle-timer and @ng-idle/core, measured in the same run. */
function clientTarget(sizes) {
  const row = (key) => sizes.find((s) => s.key === key && !s.missing);
  const main = row('main');
  const others = [row('react-idle-timer'), row('ng-idle'), row('ng-idle+keepalive')].filter(Boolean);
  if (!main || others.length === 0) return '';
  const smaller = others.filter((o) => o.minGzipBytes <= main.minGzipBytes).map((o) => o.name);
  const against = others.map((o) => `${o.name} ${fmt(o.minGzipBytes)} B`).join(', ');
  const verdict = smaller.length === 0 ? 'met' : `not met: ${smaller.join(' and ')} smaller`;
  return `Target (issue 3: the main export, min + gzip, smaller than react-idle-timer and @ng-idle/core, with and
without @ng-idle/keepalive): **${verdict}** — ${fmt(main.minGzipBytes)} B against ${against}.`;
}

function clientSection(client) {
  // Older results have neither `key` nor `contains`: their rows show as they were named.
  const lines = [
    '| bundle | what it holds | version | minified | min + gzip |',
    '|---|---|---|---:|---:|',
    ...client.sizes.map((s) =>
      s.missing
        ? `| ${s.name} | ${s.contains ?? ''} | not installed | – | – |`
        : `| ${s.key === 'main' ? `**${s.name}**` : s.name} | ${s.contains ?? ''} | ${s.version} | ${fmt(s.minBytes)} B | ${s.key === 'main' ? `**${fmt(s.minGzipBytes)} B**` : `${fmt(s.minGzipBytes)} B`} |`,
    ),
  ];
  const target = clientTarget(client.sizes);
  if (target) lines.push('', target);
  const h = client.heartbeats;
  if (h !== null) {
    lines.push(
      '',
      `| heartbeats per user-hour | active user | idle user |`,
      '|---|---:|---:|',
      `| @vigil/client, default policy (active beats ≤ 1 per ${h.heartbeatIntervalMs / 60_000} min, sleeping every ${h.sleepingIntervalMs / 60_000} min) | ${h.activeHour.active + h.activeHour.sleeping} | ${h.idleHour.active + h.idleHour.sleeping} |`,
      `| fixed-interval keepalive, every ${h.keepaliveIntervalMs / 1000} s | ${h.keepalivePerHour} | ${h.keepalivePerHour} |`,
    );
  }
  return lines.join('\n');
}

const mib = (bytes) => (bytes === null || bytes === undefined ? '–' : (bytes / 2 ** 20).toFixed(1));

/** A row list without bench/ws.mjs's transports and memory (an older or simpler result). */
function plainWebsocketRows(rows) {
  return `
**WebSocket** (bench/ws.mjs):

| target | per second | p50 (ms) | p99 (ms) |
|---|---:|---:|---:|
${rows.map((r) => `| ${r.name} | ${fmt(r.messagesPerSecond ?? r.requestsPerSecond)} | ${r.p50Ms ?? '–'} | ${r.p99Ms ?? '–'} |`).join('\n')}
`;
}

function websocketThroughput(websocket) {
  const lines = [
    '| store | transport | heartbeats/s | p50 (ms) | p99 (ms) | server CPU per heartbeat (µs) | unexpected answers |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  for (const comparison of websocket.comparisons) {
    const rows = websocket.rows.filter((r) => r.store === comparison.store);
    for (const r of rows) {
      const transport = r.transport === 'websocket' ? 'WebSocket, one socket per session' : 'HTTP';
      lines.push(
        `| ${r.store} | ${transport} | ${fmt(r.messagesPerSecond ?? r.requestsPerSecond)} | ${r.p50Ms ?? '–'} | ${r.p99Ms ?? '–'} | ${fmt(r.serverCpuMicrosPerBeat)} | ${r.unexpected} |`,
      );
    }
    lines.push(
      `| ${comparison.store} | **WebSocket ÷ HTTP** | **${comparison.throughput.toFixed(2)}** | | | ${comparison.serverCpuPerBeat === null ? '–' : comparison.serverCpuPerBeat.toFixed(2)} | |`,
    );
  }
  return lines.join('\n');
}

function websocketMemory(memory, settings) {
  const { websocket: w, http: h, wsToHttp } = memory;
  const ratioCell = (value) => (value === null ? '–' : value.toFixed(2));
  const table = [
    `| per idle open connection, in the server process (${fmt(w.connections)} WebSocket, ${fmt(h.connections)} HTTP) | WebSocket | HTTP keep-alive | WebSocket ÷ HTTP |`,
    '|---|---:|---:|---:|',
    `| RSS growth | ${fmt(w.rssBytesPerConnection)} B | ${fmt(h.rssBytesPerConnection)} B | ${ratioCell(wsToHttp.rss)} |`,
    `| heap + external growth, after a full GC | ${fmt(w.heapBytesPerConnection)} B | ${fmt(h.heapBytesPerConnection)} B | ${ratioCell(wsToHttp.heap)} |`,
    `| server RSS before → with them | ${mib(w.rssBeforeBytes)} → ${mib(w.rssAfterBytes)} MiB | ${mib(h.rssBeforeBytes)} → ${mib(h.rssAfterBytes)} MiB | |`,
  ].join('\n');
  const failed = w.failed + h.failed;
  const judged =
    w.connections >= 10_000
      ? ''
      : ` At ${fmt(w.connections)} connections the RSS growth is within the allocator's and V8's page granularity (noisy); the heap figure holds, the full run opens 10,000.`;
  return `${table}

Fresh servers (memory store) with one session per connection created before the baseline; RSS is \`VmRSS\`
from /proc, each figure taken after a full GC (\`--expose-gc\`, bench/ws-gc-probe.mjs); kernel socket buffers
are not in RSS. A socket counts once authenticated (its first status received); an HTTP connection once it
has had one \`GET /v1/session\` answered and is kept alive. Clients in ${w.clientProcesses} process(es) of their own${failed > 0 ? `; **${failed} connection(s) failed to open**` : ''}; open files limit ${fmt(settings.openFilesLimit)}.${judged}`;
}

function websocketSection(websocket) {
  if (websocket === null) return '';
  const rows = Array.isArray(websocket.rows) ? websocket.rows : [websocket];
  if (!Array.isArray(websocket.comparisons) || websocket.memory === undefined)
    return plainWebsocketRows(rows);
  const { settings, machine } = websocket;
  return `
**WebSocket** (bench/ws.mjs, ws ${websocket.versions.ws}): heartbeats over \`/v1/ws\` (\`{"type":"heartbeat","state":"active"}\`, one socket
per session) beside \`POST /v1/heartbeat\` (${websocket.versions.loadGenerator ?? 'autocannon'}), the same ${fmt(settings.connections)} sessions on the same server, one heartbeat in
flight per connection on both (the next sent when the answer is back), every beat written; ${settings.seconds} s counted after
${settings.warmUpSeconds} s uncounted, one round${machine ? ` (load average ${machine.loadAverageBefore} before, ${machine.loadAverageAfter} after, ${machine.cpus} CPUs)` : ''}. Server CPU: /proc, around the counted run.
HTTP p50/p99 are the load generator's${(websocket.versions.loadGenerator ?? 'autocannon').startsWith('autocannon') ? ' (whole ms)' : ''}; WebSocket's are each round trip's, timed by bench/ws-client.mjs.

${websocketThroughput(websocket)}

${websocketMemory(websocket.memory, settings)}
${websocket.notes.map((note) => `- ${note}\n`).join('')}`;
}

export function renderMarkdown(results) {
  const { settings, versions, machine } = results;
  const heartbeats = results.throughput.filter((r) => r.group === 'heartbeat');
  const authorizes = results.throughput.filter((r) => r.group === 'authorize');
  const sqlite = results.throughput.find((r) => r.key === 'sqlite');
  return `Run ${results.date.slice(0, 16).replace('T', ' ')} UTC on ${machine.cpu}, ${machine.memoryGiB} GiB
(load average ${machine.loadAverageBefore} before, ${machine.loadAverageAfter} after; shared with other work),
Node ${versions.node}, ${settings.short ? '`--short`' : 'full run'}: ${settings.seconds} s per target and round,
${settings.rounds} round(s) taken in turns, ${settings.connections} connections, medians shown.

**Heartbeats** (\`POST /v1/heartbeat\` \`{"state":"active"}\`, ${fmt(settings.sessions)} sessions in rotation, each beat
written: \`touchGranularity\` 0, as when every client sends one beat per interval):

${throughputTable(heartbeats)}

SQLite, the embedded default: ${sqlite.ratioToBare.toFixed(2)} × the bare Fastify ceiling in requests/s, with ${fmt(sqlite.serverCpuMicrosPerRequest)} µs of CPU
per heartbeat (server and store) against the empty route's ${fmt(heartbeats.find((r) => r.key === 'bare')?.serverCpuMicrosPerRequest)} µs.
${redisSection(results)}
**Forward-auth** (\`GET /v1/authorize\`, same sessions; through nginx: \`examples/proxies/nginx.conf\` with
\`auth_request\`, in front of a small Node app; its CPU column adds nginx's and the app's):

${throughputTable(authorizes)}
${websocketSection(results.websocket)}
**Memory**:

${memorySection(results)}

**Expiry**: one sweeper round (claims, events) on a store of that many live sessions with that many past
their deadline; it grows with what expires, not with what is stored:

${expirySection(results.expiry)}

**Browser SDK** (esbuild ${versions.esbuild}; each row is one bundle of \`export * from\` the packages named, minified,
ESM, browser, es2022, gzip level 9, frameworks external; the figure is the main export's):

${clientSection(results.client)}

- Servers, Redis, PostgreSQL, nginx and the load generator (${versions.loadGenerator ?? `autocannon ${versions.autocannon}`}) are separate processes on one
  machine${
    (versions.loadGenerator ?? '').startsWith('wrk')
      ? ` (wrk with one thread: it needs a fraction of the CPU per request that autocannon
  does, CPU the server under test would otherwise lose)`
      : ''
  }; Vigil runs \`vigil serve --log-level warn\` with \`heartbeatRateLimit\` raised. The bare route has no logger and
  ignores the body and the Authorization header. CPU per request: user + system time of the server's processes (and its
  store's: Redis, PostgreSQL) from /proc over the run, divided by the requests answered.
- SQLite commits the touches made in one turn of the event loop together (a group commit, see
  packages/store-sqlite/README.md), so the server also answers those heartbeats together: on this loopback machine
  that spares the load generator wake-ups, part of why SQLite can run ahead of the memory store, which answers each
  heartbeat at once.
- express-session ${versions['express-session']} + connect-redis ${versions['connect-redis']} (redis ${versions.redis}) on Express ${versions.express}
  (\`bench/express-session.mjs\`): cookie sessions, \`resave: false\`, \`rolling: true\`, \`saveUninitialized: false\`; the
  keepalive calls \`req.session.touch()\` (a GET and an EXPIRE in Redis, a new Set-Cookie). Vigil on Redis: ioredis ${versions.ioredis}.
- Memory store figures: fresh Node processes (\`--expose-gc\`), growth after a full GC (bench/memory-sessions.mjs); UUID subjects.
  Redis: \`INFO memory\` used_memory before and after creating the sessions through each system's HTTP API.
- Versions: Vigil ${versions.vigil}, Fastify ${versions.fastify}, better-sqlite3 ${versions['better-sqlite3']}, PostgreSQL ${versions.postgresql ?? '–'} (pg ${versions.pg}),
  Redis ${versions['redis-server'] ?? '–'}, nginx ${versions.nginx ?? '–'}, react-idle-timer ${versions['react-idle-timer'] ?? '–'}, @ng-idle/core ${versions['@ng-idle/core'] ?? '–'}.
${results.notes.map((note) => `- ${note}\n`).join('')}`;
}
