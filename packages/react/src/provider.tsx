import { createVigil, type Vigil, type VigilOptions } from '@vigil/client';
import { createContext, type ReactNode, useEffect, useState } from 'react';

export const VigilContext = createContext<Vigil | null>(null);

export interface VigilProviderProps {
  /** Used once, when the provider mounts; remount (change its `key`) to start over with others. */
  options?: VigilOptions;
  /** Or a vigil made elsewhere (shared with `<vigil-warning>`, or with test doubles). */
  vigil?: Vigil;
  /** Start on mount and stop on unmount. Default true. */
  autoStart?: boolean;
  children?: ReactNode;
}

/** Makes a vigil available to `useVigil()` below it, and runs it while mounted. */
export function VigilProvider({
  options,
  vigil: given,
  autoStart = true,
  children,
}: VigilProviderProps): ReactNode {
  const [vigil] = useState<Vigil>(() => {
    if (given) return given;
    if (!options) throw new TypeError('VigilProvider needs `options` or `vigil`');
    return createVigil(options);
  });
  useEffect(() => {
    if (!autoStart) return;
    void vigil.start();
    return () => vigil.stop();
  }, [vigil, autoStart]);
  return <VigilContext.Provider value={vigil}>{children}</VigilContext.Provider>;
}
