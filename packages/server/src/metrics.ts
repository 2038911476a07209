import { type Clock, isRemoteEvent, type SessionEvent, type SessionEvents, type Store } from '@vigil/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type HeartbeatOutcome = 'ok' | 'ended' | 'unauthenticated' | 'rate_limited' | 'unavailable';
export type WarningOutcome = 'extended' | 'expired' | 'signed_out';
export type AuthorizeOutcome = 'ok' | 'ended' | 'unauthenticated' | 'unavailable';
/** `ok` 2xx, `rejected` 401 (session ended), `failed` 5xx/timeout/network, `skipped` circuit open or overloaded. */
export type RelayOutcome = 'ok' | 'rejected' | 'failed' | 'skipped';
/** `retried` a failed attempt that will be retried; `exhausted` the last one failed; `dropped` a 4xx; `overflow` queue full. */
export type WebhookOutcome = 'delivered' | 'retried' | 'exhausted' | 'dropped' | 'overflow';

export type HeartbeatListener = (state: string, outcome: HeartbeatOutcome) => void;

export interface MetricsOptions {
  store: Store;
  clock: Clock;
  /** Policy names reported as 0 when no session of theirs is live, so their series always exist. */
  policyNames: Iterable<string>;
  /** Most warned sessions remembered to count `expired` warnings (default 100 000). */
  maxWarned?: number;
}

/**
 * The Prometheus metrics of one app (DESIGN: "Metrics"), in a registry of its own so that several
 * apps in one process (tests) never share counters. Labels are bounded sets — policy names, reasons,
 * outcomes, route patterns — never an id, a subject or a raw URL.
 */
export class VigilMetrics {
  readonly registry = new Registry();
  readonly #created: Counter<'policy'>;
  readonly #ended: Counter<'reason'>;
  readonly #heartbeats: Counter<'state' | 'outcome'>;
  readonly #warnings: Counter<'outcome'>;
  readonly #duration: Histogram<'route'>;
  readonly #storeErrors: Counter;
  readonly #authorize: Counter<'activity' | 'outcome'>;
  readonly #relay: Counter<'outcome'>;
  readonly #relayCircuit: Gauge;
  readonly #webhooks: Counter<'outcome'>;
  /** Read at scrape time: open SSE streams, webhook deliveries not yet done, open WebSockets. */
  #sseStreams: () => number = () => 0;
  #webhookQueue: () => number = () => 0;
  #wsSockets: () => number = () => 0;
  /** Sessions that were warned and have not yet been extended or ended, oldest first. */
  readonly #warned = new Set<string>();
  readonly #maxWarned: number;
  readonly #heartbeatListeners = new Set<HeartbeatListener>();

  constructor({ store, clock, policyNames, maxWarned = 100_000 }: MetricsOptions) {
    const registers = [this.registry];
    this.#maxWarned = maxWarned;
    this.#created = new Counter({
      name: 'vigil_sessions_created_total',
      help: 'Sessions created, by policy.',
      labelNames: ['policy'],
      registers,
    });
    this.#ended = new Counter({
      name: 'vigil_sessions_ended_total',
      help: 'Sessions ended, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.#heartbeats = new Counter({
      name: 'vigil_heartbeats_total',
      help: 'Heartbeats received, by state (active, sleeping) and outcome.',
      labelNames: ['state', 'outcome'],
      registers,
    });
    this.#warnings = new Counter({
      name: 'vigil_warnings_total',
      help: 'How timeout warnings ended: extended, expired or signed_out.',
      labelNames: ['outcome'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'vigil_http_request_duration_seconds',
      help: 'HTTP request duration, by route pattern.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'vigil_store_errors_total',
      help: 'Store calls that failed or timed out.',
      registers,
    });
    this.#authorize = new Counter({
      name: 'vigil_authorize_total',
      help: 'Forward-auth checks (/v1/authorize), by activity (active, passive) and outcome.',
      labelNames: ['activity', 'outcome'],
      registers,
    });
    this.#relay = new Counter({
      name: 'vigil_relay_requests_total',
      help: 'Heartbeat relay attempts upstream, by outcome (ok, rejected, failed; skipped: not sent, circuit open).',
      labelNames: ['outcome'],
      registers,
    });
    this.#relayCircuit = new Gauge({
      name: 'vigil_relay_circuit_open',
      help: 'Whether the heartbeat relay has stopped relaying after repeated failures (1) or relays (0).',
      registers,
    });
    this.#relayCircuit.set(0);
    this.#webhooks = new Counter({
      name: 'vigil_webhook_deliveries_total',
      help: 'Webhook delivery attempts, by outcome (delivered, retried, exhausted, dropped, overflow).',
      labelNames: ['outcome'],
      registers,
    });
    const sseGauge: Gauge = new Gauge({
      name: 'vigil_sse_streams',
      help: 'Open Server-Sent Events streams (/v1/events).',
      registers,
      collect: () => sseGauge.set(this.#sseStreams()),
    });
    const wsGauge: Gauge = new Gauge({
      name: 'vigil_ws_sockets',
      help: 'Open WebSocket connections (/v1/ws), authenticated or not yet.',
      registers,
      collect: () => wsGauge.set(this.#wsSockets()),
    });
    const queueGauge: Gauge = new Gauge({
      name: 'vigil_webhook_queue_size',
      help: 'Webhook deliveries waiting, retrying or in flight.',
      registers,
      collect: () => queueGauge.set(this.#webhookQueue()),
    });
    const names = [...policyNames];
    const storeErrors = this.#storeErrors;
    const live: Gauge<'policy'> = new Gauge({
      name: 'vigil_sessions_live',
      help: 'Live sessions, by policy (read from the store at scrape time).',
      labelNames: ['policy'],
      registers,
      // A failed read leaves the gauge empty for this scrape (and counts a store error) instead of
      // failing the whole scrape: the other metrics matter most exactly when the store is down.
      async collect() {
        live.reset();
        let counts: Record<string, number>;
        try {
          counts = await store.countLive(clock.now());
        } catch {
          storeErrors.inc();
          return;
        }
        for (const name of names) live.set({ policy: name }, 0);
        for (const [policy, count] of Object.entries(counts)) live.set({ policy }, count);
      },
    });
  }

  /** Counts creations, ends and warning outcomes from the event stream; returns the unsubscribe. */
  subscribe(events: SessionEvents): () => void {
    return events.on((event) => this.#onEvent(event));
  }

  heartbeat(state: string, outcome: HeartbeatOutcome): void {
    this.#heartbeats.inc({ state, outcome });
    for (const listener of this.#heartbeatListeners) listener(state, outcome);
  }

  /** Hears every heartbeat counted here, whatever its channel (the operators' stats keep a history). */
  onHeartbeat(listener: HeartbeatListener): () => void {
    this.#heartbeatListeners.add(listener);
    return () => this.#heartbeatListeners.delete(listener);
  }

  /** How a warning ended, as the browser reports it (`extended`, `signed_out`). */
  warningOutcome(outcome: WarningOutcome, sessionId: string): void {
    this.#warned.delete(sessionId);
    this.#warnings.inc({ outcome });
  }

  observeRequest(route: string, seconds: number): void {
    this.#duration.observe({ route }, seconds);
  }

  storeError(): void {
    this.#storeErrors.inc();
  }

  authorize(activity: 'active' | 'passive', outcome: AuthorizeOutcome): void {
    this.#authorize.inc({ activity, outcome });
  }

  relay(outcome: RelayOutcome): void {
    this.#relay.inc({ outcome });
  }

  relayCircuit(open: boolean): void {
    this.#relayCircuit.set(open ? 1 : 0);
  }

  webhook(outcome: WebhookOutcome): void {
    this.#webhooks.inc({ outcome });
  }

  /** Where the scrape-time gauges read their values. */
  gaugeSources(sources: {
    sseStreams?: () => number;
    webhookQueue?: () => number;
    wsSockets?: () => number;
  }): void {
    if (sources.sseStreams !== undefined) this.#sseStreams = sources.sseStreams;
    if (sources.webhookQueue !== undefined) this.#webhookQueue = sources.webhookQueue;
    if (sources.wsSockets !== undefined) this.#wsSockets = sources.wsSockets;
  }

  #onEvent(event: SessionEvent): void {
    const { id } = event.session;
    // An event bridged from another node was counted there; it still updates which sessions are warned.
    const counted = !isRemoteEvent(event);
    switch (event.type) {
      case 'session.created':
        if (counted) this.#created.inc({ policy: event.session.policy });
        break;
      case 'session.warning':
        if (this.#warned.size >= this.#maxWarned) {
          const oldest = this.#warned.values().next();
          if (!oldest.done) this.#warned.delete(oldest.value);
        }
        this.#warned.add(id);
        break;
      case 'session.extended':
        this.#warned.delete(id);
        break;
      case 'session.expired':
      case 'session.revoked':
        if (counted) this.#ended.inc({ reason: event.session.reason ?? 'unknown' });
        // A warning that ran out is `expired`; a revocation or logout is not a warning outcome.
        if (this.#warned.delete(id) && event.type === 'session.expired' && counted)
          this.#warnings.inc({ outcome: 'expired' });
        break;
      default:
        break;
    }
  }
}
