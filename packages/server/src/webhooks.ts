import { createHmac, randomUUID } from 'node:crypto';
import {
  adminView,
  type Clock,
  isRemoteEvent,
  type SessionEvent,
  type SessionEvents,
  type VigilConfig,
} from '@vigil/core';
import type { FastifyBaseLogger } from 'fastify';
import type { VigilMetrics } from './metrics.js';

type WebhookConfig = VigilConfig['webhooks'][number];

export interface WebhookDeliveryOptions {
  /** Attempts per delivery, the first included (default 8). */
  maxAttempts?: number;
  /** Wait before the first retry; doubles each time, with jitter (default 5 s: ~10 min for 8 attempts). */
  baseDelayMs?: number;
  /** Longest wait between two attempts (default 5 min). */
  maxDelayMs?: number;
  /** Longest an attempt may take before it counts as failed (default 10 s). */
  timeoutMs?: number;
  /** Deliveries kept at once (waiting, retrying or in flight); beyond it new ones are dropped (default 10 000). */
  maxQueued?: number;
  /** Attempts in flight at once, over all endpoints (default 16). */
  concurrency?: number;
}

export interface WebhookDispatcherOptions extends WebhookDeliveryOptions {
  webhooks: readonly WebhookConfig[];
  events: SessionEvents;
  clock: Clock;
  log: FastifyBaseLogger;
  metrics: VigilMetrics;
}

interface Delivery {
  webhook: WebhookConfig;
  eventId: string;
  type: string;
  body: string;
  /** Attempts made so far. */
  attempts: number;
}

/** The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`. */
export function webhookSignature(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** A URL as logs may show it: no credentials, no query (either may hold a secret). */
function forLogs(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Outbound webhooks: each session event, POSTed as signed JSON to every endpoint that wants it.
 * Delivery is at-least-once while the process lives — retried with exponential backoff and jitter
 * on 5xx, 408, 429, network errors and timeouts; dropped (and logged) on any other 4xx — from an
 * in-memory queue of bounded size. Nothing here runs on a request's path: `emit` only enqueues.
 */
export class WebhookDispatcher {
  readonly #webhooks: readonly WebhookConfig[];
  readonly #clock: Clock;
  readonly #log: FastifyBaseLogger;
  readonly #metrics: VigilMetrics;
  readonly #options: Required<WebhookDeliveryOptions>;
  readonly #ready: Delivery[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #controllers = new Set<AbortController>();
  readonly #unsubscribe: () => void;
  #inFlight = 0;
  #waiting = 0;
  #stopped = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#webhooks = options.webhooks;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#options = {
      maxAttempts: options.maxAttempts ?? 8,
      baseDelayMs: options.baseDelayMs ?? 5000,
      maxDelayMs: options.maxDelayMs ?? 300_000,
      timeoutMs: options.timeoutMs ?? 10_000,
      maxQueued: options.maxQueued ?? 10_000,
      concurrency: options.concurrency ?? 16,
    };
    this.#unsubscribe = options.events.on((event) => this.#onEvent(event));
  }

  /** Deliveries not yet done: waiting to start, waiting to retry, or in flight. */
  get size(): number {
    return this.#ready.length + this.#waiting + this.#inFlight;
  }

  /** Stops listening and drops what is queued (at-least-once holds while the process lives). */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const controller of this.#controllers) controller.abort();
    this.#ready.length = 0;
    this.#waiting = 0;
  }

  #onEvent(event: SessionEvent): void {
    // An event bridged from another node is that node's to deliver: each event is sent once per cluster.
    if (isRemoteEvent(event)) return;
    const targets = this.#webhooks.filter((webhook) => webhook.events.includes(event.type));
    if (targets.length === 0) return;
    const eventId = randomUUID();
    const payload: Record<string, unknown> = {
      id: eventId,
      type: event.type,
      occurredAt: new Date(event.at).toISOString(),
      session: adminView(event.session),
    };
    if (event.type === 'heartbeat.sleeping' && event.params !== undefined) payload.params = event.params;
    const body = JSON.stringify(payload);
    for (const webhook of targets) {
      if (this.size >= this.#options.maxQueued) {
        this.#metrics.webhook('overflow');
        this.#log.warn(
          { webhook: forLogs(webhook.url), eventId, type: event.type },
          'webhook queue full; event dropped',
        );
        continue;
      }
      this.#ready.push({ webhook, eventId, type: event.type, body, attempts: 0 });
    }
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopped && this.#inFlight < this.#options.concurrency && this.#ready.length > 0) {
      const delivery = this.#ready.shift() as Delivery;
      this.#inFlight++;
      void this.#attempt(delivery).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #attempt(delivery: Delivery): Promise<void> {
    const { webhook, eventId, body } = delivery;
    delivery.attempts++;
    const controller = new AbortController();
    this.#controllers.add(controller);
    const timer = setTimeout(() => controller.abort(), this.#options.timeoutMs);
    let status = 0;
    let retryAfterMs = 0;
    try {
      // Signed at each attempt, so that a retry carries a fresh timestamp within the receiver's tolerance.
      const signature = webhookSignature(webhook.secret, body, Math.floor(this.#clock.now() / 1000));
      const response = await fetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'vigil-webhooks/1',
          'vigil-event-id': eventId,
          'vigil-signature': signature,
        },
        body,
        redirect: 'manual',
        signal: controller.signal,
      });
      status = response.status;
      retryAfterMs = retryAfter(response.headers.get('retry-after'));
      await response.body?.cancel();
    } catch {
      status = 0; // network error or timeout
    } finally {
      clearTimeout(timer);
      this.#controllers.delete(controller);
    }
    if (this.#stopped) return;
    this.#settle(delivery, status, retryAfterMs);
  }

  #settle(delivery: Delivery, status: number, retryAfterMs: number): void {
    const where = { webhook: forLogs(delivery.webhook.url), eventId: delivery.eventId, type: delivery.type };
    if (status >= 200 && status < 300) {
      this.#metrics.webhook('delivered');
      return;
    }
    const transient = status === 0 || status === 408 || status === 429 || status >= 500;
    if (!transient) {
      this.#metrics.webhook('dropped');
      this.#log.warn({ ...where, status }, 'webhook refused the event (not retried); dropped');
      return;
    }
    if (delivery.attempts >= this.#options.maxAttempts) {
      this.#metrics.webhook('exhausted');
      this.#log.error(
        { ...where, status, attempts: delivery.attempts },
        'webhook delivery failed at every attempt; dropped',
      );
      return;
    }
    this.#metrics.webhook('retried');
    const { baseDelayMs, maxDelayMs } = this.#options;
    const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (delivery.attempts - 1));
    // "Equal jitter": at least half the backoff, so retries spread out but never bunch up early.
    const delay = Math.min(maxDelayMs, Math.max(backoff / 2 + Math.random() * (backoff / 2), retryAfterMs));
    this.#waiting++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#waiting--;
      this.#ready.push(delivery);
      this.#pump();
    }, delay);
    timer.unref();
    this.#timers.add(timer);
  }
}

/** `Retry-After` in ms (seconds or an HTTP date), 0 when absent or unreadable. */
function retryAfter(value: string | null): number {
  if (value === null) return 0;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}
