// Help texts, apart from the commands so that `--help` loads neither Fastify nor SQLite.

export const USAGE = `Usage: vigil <command> [options]

Commands:
  serve          run the HTTP service: vigil serve [--host H] [--port P] [--store SPEC] [--config FILE]
  check-config   validate a config file: vigil check-config FILE
  migrate        bring a store's schema up to date: vigil migrate --store SPEC

Options:
  -h, --help     show help (also: vigil <command> --help)
  -v, --version  show the version

Environment: VIGIL_API_KEY (serve: the backend API key), PORT (serve: default port).
Docs: README.md and DESIGN.md in the repository.`;

export const SERVE_USAGE = `Usage: vigil serve [--host H] [--port P] [--store SPEC] [--config FILE] [--dev]

Runs the HTTP service. JSON logs go to stdout; the listening URL and problems go to stderr.

  --host H         address to listen on (default 127.0.0.1)
  --port P         port (default: the PORT environment variable, else 8080; 0 picks a free one)
  --store SPEC     memory | sqlite:PATH | redis://HOST:PORT | redis+cluster://H1:P1,H2:P2
                   (default sqlite:./data/vigil.db)
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
SPEC: sqlite:PATH | redis://HOST:PORT | redis+cluster://H1:P1,H2:P2 (memory has no schema).`;
