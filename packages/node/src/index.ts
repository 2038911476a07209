export { type ErrorBody, type ErrorReply, errorReply, type VigilOptions } from './enforce.js';
export { type VigilExpressOptions, vigilExpress } from './express.js';
export { type VigilFastifyOptions, vigilFastify } from './fastify.js';
export { type LocalCheckerOptions, localChecker } from './local.js';
export { type RemoteCheckerOptions, remoteChecker } from './remote.js';
export type { SessionCheck, SessionChecker, VigilSession } from './session.js';
