import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  type AuditLog,
  bridgeEvents,
  looksLikeSessionToken,
  type RemoteEventChannel,
  type SessionEvents,
  type Store,
} from '@vigil/core';
import { buildApp } from '@vigil/server';
import { loadConfig } from '../config-file.js';
import { CliError, type Io } from '../io.js';
import { DEFAULT_STORE_SPEC, openAuditLog, openStore, parseStoreSpec, redactSpec } from '../store-spec.js';
import { SERVE_USAGE } from '../usage.js';

const MIN_KEY_LENGTH = 16;
const SHUTDOWN_TIMEOUT_MS = 10_000;
const DUPLICATE_SIGNAL_MS = 500;
/** How long start-up waits for the cross-node event subscription before serving without it. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;
const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export interface ServeOptions {
  host: string;
  port: number;
  storeSpec: string;
  configPath: string | undefined;
  logLevel: string;
  apiKey: string;
  generatedKey: boolean;
}

/** Reads `serve`'s flags and environment into options, refusing anything unsafe before opening a store. */
export function serveOptions(args: string[], io: Io): ServeOptions | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      store: { type: 'string', default: DEFAULT_STORE_SPEC },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      dev: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';

  const portText = values.port ?? io.env.PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) {
    throw new CliError(`port must be an integer from 0 to 65535, not "${portText}"`, 2);
  }
  const logLevel = values['log-level'] ?? io.env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) {
    throw new CliError(`log level must be one of ${[...LOG_LEVELS].join(', ')}, not "${logLevel}"`, 2);
  }

  let apiKey = io.env.VIGIL_API_KEY ?? '';
  let generatedKey = false;
  if (apiKey === '') {
    if (!values.dev) {
      throw new CliError(
        'VIGIL_API_KEY is not set. Set it to a long random secret (e.g. `export VIGIL_API_KEY=$(openssl rand -hex 32)`), or pass --dev to generate one for this run.',
      );
    }
    apiKey = `dev_${randomBytes(32).toString('base64url')}`;
    generatedKey = true;
  }
  if (apiKey.length < MIN_KEY_LENGTH) {
    throw new CliError(`VIGIL_API_KEY is too short: use at least ${MIN_KEY_LENGTH} random characters`);
  }
  if (/\s/.test(apiKey)) {
    throw new CliError(
      'VIGIL_API_KEY contains whitespace (a stray newline?); use a random secret without spaces',
    );
  }
  if (looksLikeSessionToken(apiKey)) {
    throw new CliError('VIGIL_API_KEY looks like a session token (vgl_…); use a separate random secret');
  }
  return {
    host: values.host,
    port,
    storeSpec: values.store,
    configPath: values.config,
    logLevel,
    apiKey,
    generatedKey,
  };
}

/**
 * `vigil serve`: validates everything first (config, key, store spec), then opens the store, listens,
 * and resolves with the exit code once a signal has shut it down cleanly.
 */
export async function serve(args: string[], io: Io): Promise<number> {
  const options = serveOptions(args, io);
  if (options === 'help') {
    io.stdout(`${SERVE_USAGE}\n`);
    return 0;
  }
  const config = await loadConfig(options.configPath, io.cwd);
  const spec = parseStoreSpec(options.storeSpec, io.cwd);
  const store = await openStore(spec, {
    endedRetentionMs: config.endedRetentionMs,
    storeTimeoutMs: config.storeTimeoutMs,
  });
  // The audit trail lives beside the sessions (same file, Redis or database), so every node sees it.
  let auditLog: AuditLog;
  try {
    auditLog = await openAuditLog(spec, {
      retentionMs: config.audit.retentionMs,
      storeTimeoutMs: config.storeTimeoutMs,
    });
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }

  let built: Awaited<ReturnType<typeof buildApp>> | undefined;
  let unbridge = () => {};
  try {
    // pino writes JSON lines to stdout; the server redacts credentials from every line.
    built = await buildApp({
      config,
      store,
      auditLog,
      apiKey: options.apiKey,
      logger: { level: options.logLevel },
    });
    unbridge = await bridgeStoreEvents(built, store);
    await built.listen({ host: options.host, port: options.port });
  } catch (error) {
    unbridge();
    // The app first: its housekeeping (sweeper, audit purge) must not run on a closed store.
    await built?.close().catch(() => {});
    await store.close().catch(() => {});
    await auditLog.close().catch(() => {});
    throw listenProblem(error, options) ?? error;
  }
  const app = built;

  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  if (options.generatedKey) {
    // Printed once, to the terminal only: the logs never see it. Before the URL, so that whoever
    // waits for the URL has the key too.
    io.stderr(`--dev: API key for this run (not saved anywhere): ${options.apiKey}\n`);
  }
  io.stderr(`Vigil listening on http://${host}:${port}/ (store ${redactSpec(options.storeSpec)})\n`);
  return waitForShutdown(app, { close: () => store.close().finally(() => auditLog.close()) }, unbridge, io);
}

/** Why the server could not listen, said in the user's terms (no stack); undefined for other errors. */
function listenProblem(error: unknown, options: Pick<ServeOptions, 'host' | 'port'>): CliError | undefined {
  const { code, syscall } = error as NodeJS.ErrnoException;
  const where = `${options.host} port ${options.port}`;
  if (code === 'EADDRINUSE') {
    return new CliError(`port ${options.port} on ${options.host} is already in use (set --port or PORT)`);
  }
  if (code === 'EACCES') {
    return new CliError(`no permission to listen on ${where} (ports below 1024 need privileges; set --port)`);
  }
  if (code === 'EADDRNOTAVAIL' || syscall === 'getaddrinfo') {
    return new CliError(
      `cannot listen on ${where}: ${options.host} is not an address of this machine (set --host)`,
    );
  }
  return undefined;
}

/** What `bridgeStoreEvents` needs of the app: its bus and a logger. */
export interface BridgedApp {
  vigil: { events: SessionEvents };
  log: { warn(obj: object, msg: string): void };
}

/**
 * Several nodes on one store (Redis) hear each other's events: SSE streams, webhooks and metrics on
 * every node see a revocation or an expiry wherever it happened. A store offers that by having
 * `publish` and `onRemoteEvent` (core's Store contract stays as it is); others serve one node and
 * get no bridge. Resolves with the off-switch once this node is subscribed (or after a bounded wait,
 * logged, when the subscription is slow: the sessions themselves never depend on it).
 */
export async function bridgeStoreEvents(app: BridgedApp, store: Store): Promise<() => void> {
  const channel = store as Store & Partial<RemoteEventChannel> & { remoteEventsReady?: () => Promise<void> };
  if (typeof channel.publish !== 'function' || typeof channel.onRemoteEvent !== 'function') return () => {};
  const unbridge = bridgeEvents(app.vigil.events, channel as Store & RemoteEventChannel, {
    // The event is not logged: its attributes are the application's data (a session is named by id).
    onError: (error, event) => {
      const { type, session } = (event ?? {}) as { type?: unknown; session?: { id?: unknown } };
      app.log.warn(
        { err: error, type: typeof type === 'string' ? type : undefined, sessionId: session?.id },
        'cross-node event not relayed',
      );
    },
  });
  if (typeof channel.remoteEventsReady === 'function') {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), SUBSCRIBE_TIMEOUT_MS);
    });
    const ready = channel.remoteEventsReady().then(
      () => 'ready' as const,
      () => 'timeout' as const,
    );
    if ((await Promise.race([ready, timedOut])) === 'timeout') {
      app.log.warn(
        {},
        'cross-node events: not subscribed yet; serving, events from other nodes may be missed',
      );
    }
    clearTimeout(timer);
  }
  return unbridge;
}

interface Closable {
  close(): Promise<unknown>;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** Resolves 0 after a clean stop; a second signal or the 10 s timer exit at once with 1. */
function waitForShutdown(
  app: Closable,
  store: Pick<Store, 'close'>,
  unbridge: () => void,
  io: Io,
): Promise<number> {
  return new Promise((resolve) => {
    let stoppingSince: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stoppingSince !== undefined) {
        // One Ctrl+C often arrives twice: from the terminal and forwarded by `npm`/`npx` or a
        // wrapper script. Only a later, deliberate second signal skips the graceful stop.
        if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return;
        io.stderr(`${signal} again: exiting without waiting\n`);
        process.exit(1);
      }
      stoppingSince = Date.now();
      app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      setTimeout(() => {
        io.stderr(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS / 1000} s: exiting\n`);
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS).unref();
      // Unbridged after the app: what in-flight requests and the last sweep emit still reaches the
      // other nodes; before the store, whose connection carries the events.
      app
        .close()
        .then(() => {
          unbridge();
          return store.close();
        })
        .then(
          () => {
            io.stderr('Vigil stopped\n');
            resolve(0);
          },
          (error: unknown) => {
            app.log.error({ err: error }, 'error while shutting down');
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
