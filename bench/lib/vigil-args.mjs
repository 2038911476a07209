// The command line of a benchmarked `vigil serve`: the compiled CLI on a free loopback port, quiet.
// No side effects on import, so bench/profile.mjs (which manages its own processes) can use it too.

/** Arguments for `node …`: `vigil serve` with `store` (a spec) and the config file at `configPath`. */
export function vigilServeArgs(store, configPath) {
  return [
    'packages/cli/bin/vigil.js',
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--store',
    store,
    '--config',
    configPath,
    '--log-level',
    'warn',
  ];
}
