import { type IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { VigilError } from '@vigil/core';
import type { ConnectionError, FastifyBaseLogger, FastifyInstance } from 'fastify';
import { StatusError, toErrorReply } from './error-handler.js';

/**
 * What Node's HTTP layer refuses or hands over before Fastify routes a request — unparsable
 * requests, `CONNECT`, an `Expect` it cannot meet, a broken WebSocket handshake — answered in the
 * one error shape (DESIGN: "every error is `{"error": {...}}`") instead of Node's, Fastify's or the
 * `ws` library's own. None of these is the server's fault: they are logged at `info` at most, with
 * the parser's code only (its error carries the raw request bytes, which may hold a token).
 */

/** Node's parser errors, as Node itself answers them (`_http_server.js`, `socketOnError`). */
function refusalFor(error: ConnectionError): StatusError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new StatusError(431, 'bad_request', 'The request line and header fields are too large.');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new StatusError(413, 'payload_too_large', 'The chunk extensions are too large.');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new StatusError(408, 'bad_request', 'The request did not arrive in time.');
    default:
      return new StatusError(400, 'bad_request', 'The request is not valid HTTP/1.1.');
  }
}

/** The response a socket is writing, as Node keeps it. */
type HttpSocket = Socket & { _httpMessage?: { headersSent: boolean } | null };

/**
 * Fastify's `clientErrorHandler` (called with the app as `this`): a request Node's parser refused
 * (a header over the size limit, garbage, a bad `Content-Length`...). The connection is closed
 * after the answer, as Node's own handler does: the parser cannot find the next request.
 */
export function clientErrorHandler(this: FastifyInstance, error: ConnectionError, socket: Socket): void {
  const refusal = refusalFor(error);
  // A reset, or a peer that closed its side in the middle of a request: it went away.
  const reset = error.code === 'ECONNRESET' || !socket.writable;
  if (reset || error.code === 'HPE_INVALID_EOF_STATE') {
    this.log.debug({ cause: error.code }, 'client went away');
  } else {
    this.log.info({ code: refusal.code, statusCode: refusal.status, cause: error.code }, 'client error');
  }
  // A response already under way on this connection (pipelining): an answer now would land in it.
  const busy = (socket as HttpSocket)._httpMessage?.headersSent === true;
  if (reset || busy) socket.destroy();
  else writeErrorAndClose(socket, refusal);
}

/**
 * Writes an error answer straight to a socket no `ServerResponse` serves, then closes it once the
 * answer has gone out. A socket that cannot be written any more is just destroyed.
 */
export function writeErrorAndClose(
  socket: Duplex,
  error: VigilError,
  headers: Record<string, string> = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const { status, fields, body } = errorAnswer(error, { connection: 'close', ...headers });
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    ...Object.entries(fields).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once('finish', () => socket.destroy());
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * `CONNECT` and an `Expect` other than `100-continue` never reach Fastify: Node hands them to
 * `connect` and `checkExpectation` listeners, and without one drops a `CONNECT`'s connection
 * unanswered and answers the other with a bare `417`. A `CONNECT` is routed like any request —
 * no route serves it, so it gets the same `404 not_found` as every other method Vigil does not
 * serve (its socket is closed after the answer, see `app.ts`); the `417` gets the error shape.
 */
export function answerConnectAndExpect(app: FastifyInstance): void {
  app.server.on('connect', (request: IncomingMessage, socket: Duplex) => {
    // Node removes its own socket error listener before handing the socket over.
    socket.on('error', () => socket.destroy());
    const response = new ServerResponse(request);
    response.assignSocket(socket as Socket);
    app.routing(request, response);
  });
  app.server.on('checkExpectation', (_request: IncomingMessage, response: ServerResponse) => {
    refuseExpectation(app.log, response);
  });
}

function refuseExpectation(log: FastifyBaseLogger, response: ServerResponse): void {
  const { status, fields, body } = errorAnswer(
    new StatusError(417, 'bad_request', 'Only the expectation 100-continue is supported.'),
  );
  log.info({ code: 'bad_request', statusCode: status }, 'request refused');
  response.writeHead(status, fields);
  response.end(body);
}

/** An error as an answer no route sends: its status, its header fields and its JSON body. */
function errorAnswer(
  error: VigilError,
  extra: Record<string, string> = {},
): { status: number; fields: Record<string, string>; body: string } {
  const answer = toErrorReply(error);
  const body = JSON.stringify(answer.body);
  const fields = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...answer.headers,
    ...extra,
  };
  return { status: answer.status, fields, body };
}
