export {
  type AccessTokenAlgorithm,
  type AccessTokenClaims,
  type AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  createAccessTokenVerifier,
  type RevocationOptions,
} from './access-token.js';
export {
  AccessTokenError,
  type AccessTokenErrorCode,
  accessTokenReply,
  isAccessTokenError,
} from './access-token-error.js';
export { vigilAccessTokenExpress } from './access-token-express.js';
export { vigilAccessTokenFastify } from './access-token-fastify.js';
export type { AccessTokenGuardOptions } from './access-token-guard.js';
export { type ErrorBody, type ErrorReply, errorReply, type VigilOptions } from './enforce.js';
export { type VigilExpressOptions, vigilExpress } from './express.js';
export { type VigilFastifyOptions, vigilFastify } from './fastify.js';
export { type LocalCheckerOptions, localChecker } from './local.js';
export { type RemoteCheckerOptions, remoteChecker } from './remote.js';
export type { SessionCheck, SessionChecker, VigilSession } from './session.js';
