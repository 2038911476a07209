/** Where activity is watched; by default the page's `window` and `document`. */
export interface ActivityTargets {
  window: EventTarget;
  document: EventTarget & { visibilityState?: string };
}

/** Events that mean a person is there. `focus` on the window only: it does not bubble from elements. */
const WINDOW_EVENTS = ['pointerdown', 'pointermove', 'keydown', 'wheel', 'touchstart', 'focus'] as const;

export function defaultActivityTargets(): ActivityTargets | null {
  if (typeof window === 'undefined' || typeof document === 'undefined') return null;
  return { window, document };
}

/**
 * Attaches passive listeners and returns the function that detaches them. `onActivity` runs on the
 * hot path (every pointer move), so it must only take a timestamp. `onVisible` runs when a hidden
 * page becomes visible again, which also counts as activity.
 */
export function watchActivity(
  targets: ActivityTargets,
  onActivity: () => void,
  onVisible?: () => void,
): () => void {
  const passive: AddEventListenerOptions = { passive: true };
  // Capture, so that scrolling inside any element counts, not only the page's own scroll.
  const capture: AddEventListenerOptions = { passive: true, capture: true };
  const visibility = (): void => {
    if (targets.document.visibilityState === 'visible') (onVisible ?? onActivity)();
  };
  const listeners = (method: 'addEventListener' | 'removeEventListener'): void => {
    for (const type of WINDOW_EVENTS) targets.window[method](type, onActivity, passive);
    targets.window[method]('scroll', onActivity, capture);
    targets.document[method]('visibilitychange', visibility, passive);
  };
  listeners('addEventListener');
  return () => listeners('removeEventListener');
}
