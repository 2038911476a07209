// `@vigil/client/push`: WebSocket and SSE push for `createVigil({ push: pushChannels() })`.
export { type PushChannel, type PushChannelsOptions, pushChannels } from './transport-choice.js';
