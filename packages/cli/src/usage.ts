// Help texts, apart from the commands so that `--help` loads neither Fastify nor SQLite.

export const USAGE = `Usage: vigil <command> [options]

Commands:
  serve          run the HTTP service: vigil serve [--host H] [--port P] [--store SPEC] [--config FILE]
  check-config   validate a config file: vigil check-config FILE
  migrate        bring a store's schema up to date: vigil migrate --store SPEC
  keys           add the next access-token signing key: vigil keys rotate --store SPEC
  sessions       list or revoke sessions on a running server: vigil sessions list --subject S
  stats          live counts and counters of a running server: vigil stats
  bench          run the benchmarks of a source checkout: vigil bench [--short]

Options:
  -h, --help     show help (also: vigil <command> --help)
  -v, --version  show the version

Environment: VIGIL_API_KEY (the backend API key), VIGIL_URL (sessions, stats: the server),
PORT (serve: default port).
Docs: README.md and DESIGN.md in the repository.`;

export const SERVE_USAGE = `Usage: vigil serve [--host H] [--port P] [--store SPEC] [--config FILE] [--log-level L] [--dev]

Runs the HTTP service. JSON logs go to stdout; the listening URL and problems go to stderr.

  --host H         address to listen on (default 127.0.0.1)
  --port P         port (default: the PORT environment variable, else 8080; 0 picks a free one)
  --store SPEC     memory | sqlite:PATH | redis://HOST:PORT | redis+cluster://H1:P1,H2:P2
                   | postgres://USER@HOST:PORT/DB (default sqlite:./data/vigil.db)
  --config FILE    JSON config with the policies (default: built-in policy, 15m idle, 8h absolute)
  --log-level L    fatal | error | warn | info | debug | trace | silent (default info, or LOG_LEVEL)
  --dev            without VIGIL_API_KEY, generate a key for this run and print it once

The API key for backend calls comes from VIGIL_API_KEY (at least 16 characters).
SIGTERM or SIGINT stop gracefully (in-flight requests finish, the store is closed); a second
signal, or 10 s without finishing, forces the exit.`;

export const CHECK_CONFIG_USAGE = `Usage: vigil check-config FILE

Validates a config file and explains each problem on its own line (field, message, [rule]).
Exit status: 0 when the config is valid (with a summary of each policy), 1 otherwise.`;

export const MIGRATE_USAGE = `Usage: vigil migrate --store SPEC

Brings the store's schema up to date and exits. \`vigil serve\` does this on start too; run it on
its own before starting several nodes at once, or to check that a store is reachable.
SPEC: sqlite:PATH | redis://HOST:PORT | redis+cluster://H1:P1,H2:P2 | postgres://USER@HOST:PORT/DB
(memory has no schema).`;

export const KEYS_USAGE = `Usage: vigil keys rotate --store SPEC [--config FILE] [--activate-in DURATION] [--json]

Token mode: adds the next signing key to the store that \`vigil serve\` uses. Every node publishes it
in its JWKS at once (within 30 s) and signs with it from the activation time on; the key it replaces
stays published until the last access token it signed has expired, so nobody is logged out.

  --store SPEC         sqlite:PATH | redis://HOST:PORT | redis+cluster://H1:P1,H2:P2
                       | postgres://USER@HOST:PORT/DB (the servers' store)
  --config FILE        the servers' config: its tokens.algorithm is the new key's (default ES256)
  --activate-in D      from when the new key signs (default 2m, at least 30s)
  --json               print {generation, kid, alg, activatesAt}

Keys given in the config's tokens.keysFile are not in the store: rotate them by editing that file.`;

const SERVER_FLAGS = `  --url U          the server (default: VIGIL_URL, else http://127.0.0.1:8080)
  --api-key KEY    the API key (default: VIGIL_API_KEY; the environment keeps it out of \`ps\`)
  --json           print the server's JSON instead of a table

Exit status: 0 done, 1 the server answered an error (e.g. 503: its store is down), 2 bad usage,
3 the server cannot be reached, 4 no such session, 5 the API key was refused.`;

export const SESSIONS_USAGE = `Usage: vigil sessions list --subject S        a subject's sessions (live and recently ended)
       vigil sessions revoke ID               end one session now
       vigil sessions revoke-all --subject S  end every live session of a subject

Talks to a running server with the API key.

${SERVER_FLAGS}`;

export const STATS_USAGE = `Usage: vigil stats

Live sessions by policy and state (active, in their warning period), and what the server has seen
since it started: sessions created, heartbeats, ends by reason, and the last hour.

${SERVER_FLAGS}`;

export const BENCH_USAGE = `Usage: vigil bench [--short] [--update-readme]

Runs the benchmarks of this Vigil source checkout (bench/run.mjs, as \`npm run bench\`): heartbeats
and forward-auth beside a bare Fastify route and express-session, memory per session, expiry, the
browser SDK's size. They start their own servers and stores on loopback and write
bench/results/latest.md and latest.json. Needs the repository's dev dependencies (\`npm ci\`).

  --short          the quick version (about a minute) instead of the full one (about 8 minutes)
  --update-readme  also write the results into README.md`;
