// `npm start`: Vigil on the embedded default store, for a newcomer. Builds what changed (tsc -b is
// incremental), then starts the browser demo (examples/demo: sign-in page, warning dialog, second
// tab, embedded tool; it serves Vigil's API on the same origin). If the demo is not built or does not
// come up, it starts `vigil serve` with the quick-start policies instead and prints copy-paste
// commands that walk through a session's life. Either way the URL is http://127.0.0.1:PORT/.
// START_MODE=cli skips the demo.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const host = '127.0.0.1';
const port = process.env.PORT ?? '8080';
const base = `http://${host}:${port}`;
const config = 'examples/quickstart/vigil.config.json';
const store = 'sqlite:./data/vigil.db';
const demoEntry = 'examples/demo/dist/main.js';

process.stderr.write('Building (tsc -b)…\n');
const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], {
  cwd: root,
  stdio: 'inherit',
});
if (build.status !== 0) {
  process.stderr.write('The build failed (see above); fix it or run `npm ci` again.\n');
  process.exit(1);
}

let apiKey = process.env.VIGIL_API_KEY ?? '';
const generated = apiKey === '';
if (generated) apiKey = `dev_${randomBytes(24).toString('base64url')}`;

// Something already answering on the port would pass for us: refuse early instead.
try {
  await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
  process.stderr.write(
    `Port ${port} is already in use (is Vigil already running?). Try PORT=8081 npm start\n`,
  );
  process.exit(1);
} catch {
  // free
}

/**
 * One Ctrl+C reaches this process twice (from the terminal and forwarded by npm). The child runs in
 * its own process group, so it hears only what is forwarded here: once per press, so that its
 * graceful stop is not mistaken for a second, forcing signal.
 */
let child;
let stopping = false;
let lastSignalAt = 0;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopping = true;
    if (Date.now() - lastSignalAt < 500) return;
    lastSignalAt = Date.now();
    if (child === undefined || child.exitCode !== null) process.exit(130);
    child.kill(signal);
  });
}
process.on('exit', () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

/** Starts a child and resolves true once `/healthz` answers, false if it exits first or within 60 s. */
function start(args, env) {
  child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env, detached: true });
  const current = child;
  const exited = new Promise((resolve) => current.once('exit', (code, signal) => resolve({ code, signal })));
  const healthy = (async () => {
    const started = Date.now();
    while (current.exitCode === null && Date.now() - started < 60_000) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) return true;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  })();
  return { healthy, exited };
}

/** After the child is up: leave with its exit status. */
async function follow(exited) {
  const { code, signal } = await exited;
  if (!stopping && code !== 0) process.stderr.write(`\nVigil exited with ${code ?? signal}.\n`);
  process.exit(stopping ? 0 : (code ?? 1));
}

if (process.env.START_MODE !== 'cli' && existsSync(`${root}/${demoEntry}`)) {
  // The demo makes and prints its own key when VIGIL_API_KEY is not set.
  const demo = start([demoEntry], { ...process.env, PORT: port, HOST: host });
  if (await demo.healthy) await follow(demo.exited);
  const { code } = await Promise.race([
    demo.exited,
    new Promise((r) => setTimeout(() => r({ code: 'hung' }), 2000)),
  ]);
  if (code === 'hung') child.kill('SIGKILL');
  if (stopping) process.exit(0);
  process.stderr.write(`\nThe demo did not start (${code}); starting the API alone instead.\n\n`);
}

const cli = start(
  [
    'packages/cli/bin/vigil.js',
    'serve',
    '--host',
    host,
    '--port',
    port,
    '--store',
    store,
    '--config',
    config,
    // Request logs would bury the instructions below; LOG_LEVEL=info npm start shows them.
    '--log-level',
    process.env.LOG_LEVEL ?? 'warn',
  ],
  { ...process.env, VIGIL_API_KEY: apiKey },
);
if (!(await cli.healthy)) {
  if (!stopping)
    process.stderr.write(`vigil serve did not come up on ${base}/. Port busy? Try PORT=8081 npm start\n`);
  child.kill('SIGTERM');
  await follow(cli.exited);
}
process.stdout.write(`
Vigil is running: ${base}/
Store: ${store} · policies: ${config} ("default": 2 min idle, 1 h absolute; "demo": 30 s idle)
API key: ${generated ? `${apiKey}  (generated for this run; set VIGIL_API_KEY to choose your own)` : 'from VIGIL_API_KEY'}
Dashboard: ${base}/dashboard (sign in with the API key) · API docs: ${base}/docs

Try it from another terminal (needs curl and node):

  export VIGIL=${base} KEY='${apiKey}'

  # 1. Your backend creates a session when a user signs in (API key). Policy "demo": 30 s idle.
  RES=$(curl -s -X POST $VIGIL/v1/sessions -H "Authorization: Bearer $KEY" \\
    -H 'Content-Type: application/json' -d '{"subject":"alice","policy":"demo"}'); echo "$RES"
  TOKEN=$(node -pe 'JSON.parse(process.argv[1]).token' "$RES")
  ID=$(node -pe 'JSON.parse(process.argv[1]).session.id' "$RES")

  # 2. The browser sends heartbeats with the session token: "active" resets the idle timer,
  #    "sleeping" only proves the page is still there. Watch idleExpiresInMs.
  curl -s -X POST $VIGIL/v1/heartbeat -H "Authorization: Bearer $TOKEN" \\
    -H 'Content-Type: application/json' -d '{"state":"active"}'; echo

  # 3. Read the status (touches nothing). Wait 30 s without an active heartbeat and it answers
  #    401 {"error":{"code":"session_ended","reason":"idle_timeout",…}}.
  curl -s $VIGIL/v1/session -H "Authorization: Bearer $TOKEN"; echo

  # 4. The backend revokes it (or lists alice's sessions); the token is refused from then on.
  curl -s -X DELETE $VIGIL/v1/sessions/$ID -H "Authorization: Bearer $KEY" -o /dev/null -w '%{http_code}\\n'
  curl -s "$VIGIL/v1/sessions?subject=alice" -H "Authorization: Bearer $KEY"; echo
  curl -s $VIGIL/v1/session -H "Authorization: Bearer $TOKEN"; echo

  # Health and metrics
  curl -s $VIGIL/healthz; curl -s $VIGIL/metrics | grep '^vigil_'

Stop with Ctrl+C.
`);
await follow(cli.exited);
