import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

/**
 * Logging that cannot leak a credential, with three locks: requests are serialized without headers
 * (method, path without query, route, address); pino `redact` removes credential-named fields if
 * some code logs them anyway; and every log *message* is scrubbed of token-shaped strings and of the
 * configured secrets (a token pasted into a URL path, an API key echoed in an error).
 */

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'authorization',
  'cookie',
  'token',
  'apiKey',
  'refreshToken',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.apiKey',
  '*.refreshToken',
];

const TOKEN_LIKE = /vgl_[A-Za-z0-9_-]{8,}/g;

export type Scrub = (text: string) => string;

export function scrubber(secrets: readonly string[]): Scrub {
  const literal = secrets.filter((secret) => secret.length > 0);
  return (text) => {
    let clean = text.replace(TOKEN_LIKE, 'vgl_[redacted]');
    for (const secret of literal) {
      if (clean.includes(secret)) clean = clean.split(secret).join('[redacted]');
    }
    return clean;
  };
}

/** The pino options for Fastify's `logger`, or `false`. `option` adds to (never removes) the locks. */
export function loggerOptions(
  option: boolean | object | undefined,
  secrets: readonly string[],
): false | Record<string, unknown> {
  if (option === undefined || option === false) return false;
  const given = (option === true ? {} : option) as Record<string, unknown>;
  const scrub = scrubber(secrets);
  const givenRedact = given.redact;
  const extraPaths = Array.isArray(givenRedact)
    ? givenRedact
    : ((givenRedact as { paths?: string[] } | undefined)?.paths ?? []);
  return {
    level: 'info',
    ...given,
    redact: { paths: [...REDACT_PATHS, ...extraPaths], censor: '[redacted]' },
    serializers: {
      ...(given.serializers as object | undefined),
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: scrub(pathOnly(request.url)),
        route: request.routeOptions?.url,
        remoteAddress: request.ip,
      }),
    },
    hooks: {
      logMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void) {
        method.apply(
          this,
          args.map((arg) => (typeof arg === 'string' ? scrub(arg) : arg)),
        );
      },
    },
  };
}

/** The path of a URL without its query string (a query may carry a subject; a path is enough). */
function pathOnly(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogArgs = Parameters<FastifyBaseLogger['info']>;
/** What pino offers beyond Fastify's logger interface, used to skip work for disabled levels. */
type PinoLike = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };

/**
 * A request's logger that makes its pino child (bound to the request id) only when a line is
 * written at an enabled level. Fastify makes a child per request, and with the redaction above that
 * costs a good share of a heartbeat; most requests log nothing (the service runs at `warn`, or only
 * refusals are logged), so most never need one. Lines that are written are the same as an eager
 * child's.
 */
class LazyChildLogger implements FastifyBaseLogger {
  readonly #parent: PinoLike;
  readonly #bindings: Bindings;
  #child: PinoLike | null = null;

  constructor(parent: PinoLike, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  get level(): string {
    return (this.#child ?? this.#parent).level;
  }

  set level(level: string) {
    this.#made().level = level;
  }

  fatal(...args: LogArgs): void {
    this.#write('fatal', args);
  }
  error(...args: LogArgs): void {
    this.#write('error', args);
  }
  warn(...args: LogArgs): void {
    this.#write('warn', args);
  }
  info(...args: LogArgs): void {
    this.#write('info', args);
  }
  debug(...args: LogArgs): void {
    this.#write('debug', args);
  }
  trace(...args: LogArgs): void {
    this.#write('trace', args);
  }
  silent(): void {}

  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#made().child(bindings, options);
  }

  #write(level: Level, args: LogArgs): void {
    if (this.#child === null && !this.#parent.isLevelEnabled(level)) return;
    this.#made()[level](...args);
  }

  #made(): PinoLike {
    this.#child ??= this.#parent.child(this.#bindings) as PinoLike;
    return this.#child;
  }
}

/**
 * Fastify's `childLoggerFactory`: the lazy child above for pino, unless a route asks for its own
 * level or serializers (which only a real child carries) or the logger is not pino.
 */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  const pino = logger as Partial<PinoLike>;
  if (
    options.level !== undefined ||
    options.serializers !== undefined ||
    typeof pino.isLevelEnabled !== 'function'
  ) {
    return logger.child(bindings, options);
  }
  return new LazyChildLogger(logger as PinoLike, bindings);
}
