import type { Vigil, VigilStatus } from '@vigil/client';
import { useContext, useEffect, useMemo, useState } from 'react';
import { VigilContext } from './provider.js';

export interface UseVigil {
  status: VigilStatus;
  /** While the warning shows: ms left, counted down every second. Null otherwise. */
  warning: { msLeft: number } | null;
  /** Once the session has ended: why. Null before. */
  ended: { reason: string } | null;
  heartbeatsDisabled: boolean;
  extend: Vigil['extend'];
  logout: Vigil['logout'];
  vigil: Vigil;
}

/** The session as the nearest `<VigilProvider>` sees it, re-rendering when it changes. */
export function useVigil(): UseVigil {
  const vigil = useContext(VigilContext);
  if (!vigil) throw new Error('useVigil() must be used inside <VigilProvider>');
  const [status, setStatus] = useState<VigilStatus>(() => vigil.status());
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    setStatus(vigil.status());
    return vigil.on('status', setStatus);
  }, [vigil]);

  const inWarning = status.state === 'warning';
  useEffect(() => {
    if (!inWarning) return;
    setNow(Date.now());
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [inWarning]);

  return useMemo(
    () => ({
      status,
      warning:
        inWarning && status.expiresAt !== null ? { msLeft: Math.max(0, status.expiresAt - now) } : null,
      ended: status.state === 'ended' ? { reason: status.endedReason ?? 'ended' } : null,
      heartbeatsDisabled: status.heartbeatsDisabled,
      extend: vigil.extend,
      logout: vigil.logout,
      vigil,
    }),
    [status, inWarning, now, vigil],
  );
}
