// `npm start`: Vigil on its embedded default store (SQLite under ./data) with the demo in front.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolveConfig } from '@vigil/core';
import { SqliteStore } from '@vigil/store-sqlite';
import { startDemo } from './demo.js';

const config = resolveConfig(
  JSON.parse(readFileSync(new URL('../vigil.config.json', import.meta.url), 'utf8')),
);
const apiKey = process.env.VIGIL_API_KEY ?? `dev_${randomBytes(24).toString('base64url')}`;
const store = await SqliteStore.open({ path: process.env.VIGIL_DEMO_DB ?? './data/vigil.db' });
const demo = await startDemo({
  config,
  store,
  apiKey,
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 8080),
  logger: { level: process.env.LOG_LEVEL ?? 'warn' },
});

const api = demo.url.replace(/\/$/, '');
process.stdout.write(`
Vigil is running, with its demo: ${demo.url}

  Open it, sign in, and stop moving: the warning comes after 25 s of idleness, the end 20 s later.
  The same server is Vigil's API. With the API key${process.env.VIGIL_API_KEY ? ' from VIGIL_API_KEY' : ` ${apiKey}`}:

  curl -s -X POST ${api}/v1/sessions -H 'authorization: Bearer ${process.env.VIGIL_API_KEY ? '$VIGIL_API_KEY' : apiKey}' \\
       -H 'content-type: application/json' -d '{"subject":"alice"}'
  curl -s -X POST ${api}/v1/heartbeat -H 'authorization: Bearer TOKEN' -H 'content-type: application/json' \\
       -d '{"state":"active"}'

  Dashboard: ${api}/dashboard  (sign in with the API key${process.env.VIGIL_API_KEY ? ' from VIGIL_API_KEY' : ` ${apiKey}`})
  API docs: ${api}/docs   Metrics: ${api}/metrics   Health: ${api}/healthz   Stop: Ctrl-C
`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => process.exit(1), 10_000).unref();
    await demo.close();
    await store.close();
    process.exit(0);
  });
}
