import type { ServerResponse } from 'node:http';
import { VigilError } from '@vigil/core';
import type { NextFunction, Request, Response } from 'express';
import { createEnforcer, type ErrorReply, errorReply, type VigilOptions } from './enforce.js';
import type { VigilSession } from './session.js';

declare global {
  namespace Express {
    interface Request {
      /** The checked session (set by `vigilExpress`). */
      vigil?: VigilSession | null;
    }
  }
}

export type VigilExpressOptions = VigilOptions<Request>;

/**
 * Express middleware that lets a request through only while its session lives, with the session on
 * `req.vigil`; otherwise it answers as the Vigil server does: `401` (`unauthenticated`,
 * `session_ended` with the reason) or `503` + `Retry-After` when sessions cannot be checked. Other
 * errors (a throwing `passive` callback) go to `next(error)`. Options are checked here, at once.
 */
export function vigilExpress(options: VigilExpressOptions) {
  const enforce = createEnforcer<Request>('vigilExpress', options);
  return function vigilSession(req: Request, res: Response, next: NextFunction): void {
    // `originalUrl`: the whole path even when the middleware is mounted under a prefix.
    enforce(req, req.headers, req.originalUrl ?? req.url).then(
      function onSession(session) {
        req.vigil = session;
        next();
      },
      function onRefusal(error: unknown) {
        if (error instanceof VigilError && !res.headersSent) send(res, errorReply(error));
        else next(error);
      },
    );
  };
}

function send(res: ServerResponse, reply: ErrorReply): void {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.end(JSON.stringify(reply.body));
}
