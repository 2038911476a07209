import {
  RateLimitedError,
  type SessionStatus,
  type Signal,
  StoreUnavailableError,
  sessionStatus,
  VigilError,
} from '@vigil/core';
import { checkJsonObjectSize } from './limits.js';
import type { HeartbeatOutcome, VigilMetrics, WarningOutcome } from './metrics.js';
import type { TokenBuckets } from './rate-limit.js';
import type { HeartbeatRelay } from './relay.js';
import type { SessionService } from './sessions-service.js';

/**
 * One heartbeat, whatever carried it (`POST /v1/heartbeat` or a `/v1/ws` message): the same size
 * check, the same per-session rate limit (one bucket per session for both channels), the same touch,
 * the same metrics and relay. Keeping this in one place is what makes a socket heartbeat extend a
 * session exactly like an HTTP one.
 */

export interface HeartbeatInput {
  state: Signal;
  params?: Record<string, unknown> | undefined;
  /** How a warning the browser showed ended (metrics only). */
  warning?: WarningOutcome | undefined;
}

export interface HeartbeatDeps {
  service: SessionService;
  limiter: TokenBuckets;
  metrics: VigilMetrics;
  relay: HeartbeatRelay | null;
}

function outcomeOf(error: unknown): HeartbeatOutcome {
  if (error instanceof RateLimitedError) return 'rate_limited';
  if (error instanceof StoreUnavailableError) return 'unavailable';
  if (error instanceof VigilError && error.code === 'session_ended') return 'ended';
  if (error instanceof VigilError && error.code === 'unauthenticated') return 'unauthenticated';
  throw error;
}

/** Applies a heartbeat for session `id`; throws `validation_failed`, `rate_limited`, `401`s or `503`. */
export async function acceptHeartbeat(
  { service, limiter, metrics, relay }: HeartbeatDeps,
  id: string,
  { state, params, warning }: HeartbeatInput,
): Promise<SessionStatus> {
  checkJsonObjectSize(params, 'body.params');
  const now = service.now();
  try {
    const waitMs = limiter.take(id, now);
    if (waitMs > 0) throw new RateLimitedError(waitMs);
    const { record, policy } = await service.heartbeat(id, state, params, now);
    metrics.heartbeat(state, 'ok');
    relay?.relay({
      sessionId: id,
      subject: record.subject,
      state,
      ...(params !== undefined && { params }),
    });
    if (warning !== undefined) metrics.warningOutcome(warning, id);
    return sessionStatus(record, policy, now);
  } catch (error) {
    metrics.heartbeat(state, outcomeOf(error));
    throw error;
  }
}
