// `@vigil/client/token`: token mode, short-lived access tokens kept fresh for the app's own API.
export {
  createTokenMode,
  type TokenLocks,
  type TokenMode,
  type TokenModeOptions,
  TokenRefreshError,
} from './token-mode.js';
export { defaultRefreshAfter } from './token-timing.js';
