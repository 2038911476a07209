// One autocannon run in its own process (so the load generator never shares an event loop with the
// server under test), used where wrk is not installed (bench/lib/load-generator.mjs). Input: a JSON
// job in argv[2]; output on stdout, as JSON, the figures wrk's runs report too.
// `tokens` rotate per request, so many sessions can be exercised through one connection pool; each
// goes out as `Authorization: Bearer <token>`, or as the `Cookie` header when `credential` is
// `cookie` (express-session's cookie sessions). `method` defaults to POST with the heartbeat body
// `{"state":"active"}`; a GET (forward-auth) sends no body. `headers` are added to every request.
import autocannon from 'autocannon';

const job = JSON.parse(process.argv[2]);
const credential = job.credential ?? 'bearer';
const method = job.method ?? 'POST';
let next = 0;
const result = await autocannon({
  url: job.url,
  method,
  connections: job.connections,
  duration: job.duration,
  headers: {
    ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    ...job.headers,
  },
  ...(method === 'POST' ? { body: JSON.stringify({ state: 'active' }) } : {}),
  requests: [
    {
      setupRequest(request) {
        if (job.tokens.length === 0) return request;
        const token = job.tokens[next++ % job.tokens.length];
        const header = credential === 'cookie' ? { cookie: token } : { authorization: `Bearer ${token}` };
        return { ...request, headers: { ...request.headers, ...header } };
      },
    },
  ],
});
process.stdout.write(
  JSON.stringify({
    requestsPerSecond: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    total: result.requests.total,
    statuses: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, Number(stat.count)]),
    ),
    errors: result.errors + result.timeouts,
  }),
);
