import type { ServerResponse } from 'node:http';
import { VigilError } from '@vigil/core';
import type { NextFunction, Request, Response } from 'express';
import type { AccessTokenClaims } from './access-token.js';
import { AccessTokenError, accessTokenReply } from './access-token-error.js';
import { type AccessTokenGuardOptions, createAccessTokenGuard } from './access-token-guard.js';
import type { ErrorReply } from './enforce.js';

declare global {
  namespace Express {
    interface Request {
      /** The verified access token's claims (set by `vigilAccessTokenExpress`). */
      vigilClaims?: AccessTokenClaims | null;
    }
  }
}

/**
 * Express middleware that lets a request through only with a valid Vigil access token
 * (`Authorization: Bearer`), its claims on `req.vigilClaims`; otherwise it answers as the Vigil
 * server does: `401` (`unauthenticated`: missing, invalid or expired — refresh and retry;
 * `session_ended` with the reason when the revocation check found the session over) or `503` +
 * `Retry-After` when the token cannot be checked right now. Options are checked here, at once.
 */
export function vigilAccessTokenExpress(options: AccessTokenGuardOptions) {
  const guard = createAccessTokenGuard('vigilAccessTokenExpress', options);
  return function vigilAccessToken(req: Request, res: Response, next: NextFunction): void {
    guard(req.headers).then(
      function onClaims(claims) {
        req.vigilClaims = claims;
        next();
      },
      function onRefusal(error: unknown) {
        const refused = error instanceof AccessTokenError || error instanceof VigilError;
        if (refused && !res.headersSent) send(res, accessTokenReply(error));
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
