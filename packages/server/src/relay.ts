import type { Signal, VigilConfig } from '@vigil/core';
import type { FastifyBaseLogger } from 'fastify';
import type { RelayOutcome, VigilMetrics } from './metrics.js';

type RelayConfig = NonNullable<VigilConfig['relay']>;

export interface RelayRetryOptions {
  /** Retries of one heartbeat after a 5xx, timeout or network error (default 2). */
  retries?: number;
  /** Wait before the first retry; doubles each time, with jitter (default 250 ms). */
  baseDelayMs?: number;
  /** Requests in flight at once; beyond it heartbeats are not relayed (default 256). */
  maxInFlight?: number;
}

export interface HeartbeatRelayOptions extends RelayRetryOptions {
  config: RelayConfig;
  log: FastifyBaseLogger;
  metrics: VigilMetrics;
  /** Called when the upstream answers `401` for a session: end it (`upstream_rejected`). */
  onRejected: (sessionId: string) => Promise<void>;
}

/** What the upstream receives, as JSON. */
export interface RelayedHeartbeat {
  sessionId: string;
  subject: string;
  state: Signal;
  params?: Record<string, unknown>;
}

type Answer = 'ok' | 'rejected' | 'failed';

/**
 * Forwards accepted heartbeats to an upstream and obeys it the way an embedded application obeys
 * its host: `2xx` continue, `401` end the session, anything else (5xx, timeout, network) retry with
 * backoff. After `failureThreshold` consecutive failures the circuit opens: nothing is relayed and,
 * every `probeInterval`, the latest withheld heartbeat is sent as a probe; one answer closes it.
 * It never runs on the heartbeat's path (the browser does not wait for a slow upstream), and local
 * enforcement never depends on it.
 */
export class HeartbeatRelay {
  readonly #config: RelayConfig;
  readonly #log: FastifyBaseLogger;
  readonly #metrics: VigilMetrics;
  readonly #onRejected: (sessionId: string) => Promise<void>;
  readonly #retries: number;
  readonly #baseDelayMs: number;
  readonly #maxInFlight: number;
  /** The newest relay of each session still being tried: an older one is not retried after it. */
  readonly #latest = new Map<string, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #controllers = new Set<AbortController>();
  #seq = 0;
  #inFlight = 0;
  #failures = 0;
  #open = false;
  #withheld: RelayedHeartbeat | null = null;
  #probe: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: HeartbeatRelayOptions) {
    this.#config = options.config;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#onRejected = options.onRejected;
    this.#retries = options.retries ?? 2;
    this.#baseDelayMs = options.baseDelayMs ?? 250;
    this.#maxInFlight = options.maxInFlight ?? 256;
    this.#metrics.relayCircuit(false);
  }

  get circuitOpen(): boolean {
    return this.#open;
  }

  /** Relays one accepted heartbeat, in the background. */
  relay(heartbeat: RelayedHeartbeat): void {
    if (this.#stopped) return;
    if (this.#open || this.#inFlight >= this.#maxInFlight) {
      if (this.#open) this.#withheld = heartbeat;
      this.#metrics.relay('skipped');
      return;
    }
    const seq = ++this.#seq;
    this.#latest.set(heartbeat.sessionId, seq);
    void this.#deliver(heartbeat, seq, 1);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#probe);
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#controllers) controller.abort();
  }

  async #deliver(heartbeat: RelayedHeartbeat, seq: number, attempt: number): Promise<void> {
    const answer = await this.#post(heartbeat);
    if (this.#stopped) return;
    const { sessionId } = heartbeat;
    if (answer !== 'failed') {
      this.#forget(sessionId, seq);
      this.#answered();
      if (answer === 'rejected') await this.#reject(sessionId);
      return;
    }
    this.#failed();
    const superseded = this.#latest.get(sessionId) !== seq;
    if (this.#open || superseded || attempt > this.#retries) {
      this.#forget(sessionId, seq);
      if (this.#open && !superseded) this.#withheld ??= heartbeat;
      return;
    }
    const backoff = this.#baseDelayMs * 2 ** (attempt - 1);
    const timer = setTimeout(
      () => {
        this.#timers.delete(timer);
        if (this.#open || this.#latest.get(sessionId) !== seq) {
          this.#forget(sessionId, seq);
          return;
        }
        void this.#deliver(heartbeat, seq, attempt + 1);
      },
      backoff / 2 + Math.random() * (backoff / 2),
    );
    timer.unref();
    this.#timers.add(timer);
  }

  /** One POST, bounded by `timeout`; never throws. */
  async #post(heartbeat: RelayedHeartbeat): Promise<Answer> {
    this.#inFlight++;
    const controller = new AbortController();
    this.#controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.#config.timeoutMs);
    let answer: Answer = 'failed';
    let status = 0;
    try {
      const response = await fetch(this.#config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'vigil-relay/1' },
        body: JSON.stringify({
          sessionId: heartbeat.sessionId,
          subject: heartbeat.subject,
          state: heartbeat.state,
          params: heartbeat.params ?? {},
        }),
        redirect: 'manual',
        signal: controller.signal,
      });
      status = response.status;
      await response.body?.cancel();
      if (status >= 200 && status < 300) answer = 'ok';
      else if (status === 401) answer = 'rejected';
    } catch {
      answer = 'failed';
    } finally {
      clearTimeout(timer);
      this.#controllers.delete(controller);
      this.#inFlight--;
    }
    if (!this.#stopped) {
      this.#metrics.relay(answer satisfies RelayOutcome);
      if (answer === 'failed') this.#log.debug({ status }, 'relay attempt failed');
    }
    return answer;
  }

  #answered(): void {
    this.#failures = 0;
    if (this.#open) this.#close();
  }

  #failed(): void {
    this.#failures++;
    if (!this.#open && this.#failures >= this.#config.failureThreshold) {
      this.#open = true;
      this.#metrics.relayCircuit(true);
      this.#log.warn(
        { failures: this.#failures, probeIntervalMs: this.#config.probeIntervalMs },
        'relay circuit open: heartbeats are no longer relayed upstream (local enforcement continues)',
      );
      this.#scheduleProbe();
    }
  }

  #close(): void {
    this.#open = false;
    this.#withheld = null;
    clearTimeout(this.#probe);
    this.#metrics.relayCircuit(false);
    this.#log.info('relay circuit closed: the upstream answers again');
  }

  #scheduleProbe(): void {
    clearTimeout(this.#probe);
    this.#probe = setTimeout(() => void this.#runProbe(), this.#config.probeIntervalMs);
    this.#probe.unref();
  }

  /** Sends the latest withheld heartbeat; with none since the last probe, waits another interval. */
  async #runProbe(): Promise<void> {
    if (this.#stopped || !this.#open) return;
    const heartbeat = this.#withheld;
    if (heartbeat === null) {
      this.#scheduleProbe();
      return;
    }
    this.#withheld = null;
    const answer = await this.#post(heartbeat);
    if (this.#stopped) return;
    if (answer === 'failed') {
      this.#failures++;
      this.#withheld ??= heartbeat;
      this.#scheduleProbe();
      return;
    }
    this.#answered();
    if (answer === 'rejected') await this.#reject(heartbeat.sessionId);
  }

  async #reject(sessionId: string): Promise<void> {
    try {
      await this.#onRejected(sessionId);
      this.#log.info({ sessionId }, 'relay upstream rejected the session: ended (upstream_rejected)');
    } catch (error) {
      // The next heartbeat is relayed again and the upstream says 401 again: the end is retried then.
      this.#log.warn({ sessionId, err: error }, 'relay upstream rejected the session, but ending it failed');
    }
  }

  #forget(sessionId: string, seq: number): void {
    if (this.#latest.get(sessionId) === seq) this.#latest.delete(sessionId);
  }
}
