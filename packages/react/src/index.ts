export { VigilContext, VigilProvider, type VigilProviderProps } from './provider.js';
export { type UseVigil, useVigil } from './use-vigil.js';
