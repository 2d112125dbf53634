import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of §11 on a registry of this app instance (tests run several per process). */
@Injectable()
export class MetricsService implements OnModuleDestroy {
  readonly registry = new Registry();

  readonly conversationCacheBytes = new Gauge({
    name: 'realtime_conversation_cache_bytes',
    help: 'Estimated heap bytes of the conversation cache (bounded, §12.3)',
    registers: [this.registry],
  });
  readonly connections = new Gauge({
    name: 'realtime_connections',
    help: 'Live Socket.IO connections on this node',
    labelNames: ['namespace'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'realtime_events_total',
    help: 'Client events handled, by name and outcome (ok or error type)',
    labelNames: ['event', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly eventDuration = new Histogram({
    name: 'realtime_event_duration_seconds',
    help: 'Handler latency from receipt to ack',
    labelNames: ['event'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'realtime_rate_limited_total',
    help: 'Requests refused by a rate limit',
    labelNames: ['scope', 'event'] as const,
    registers: [this.registry],
  });
  readonly handshakeRefused = new Counter({
    name: 'realtime_handshake_refused_total',
    help: 'Handshakes refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly alertDeliveries = new Counter({
    name: 'realtime_alert_deliveries_total',
    help: 'Alert deliveries to sockets (first, replayed and re-sent)',
    labelNames: ['kind', 'mode'] as const,
    registers: [this.registry],
  });
  readonly alertAcknowledgements = new Counter({
    name: 'realtime_alert_acknowledgements_total',
    help: 'Alert acknowledgements recorded',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly alertEscalations = new Counter({
    name: 'realtime_alert_escalations_total',
    help: 'Alert escalation webhook outcomes: delivered (a 2xx), failed (an attempt to retry), abandoned (acknowledged, resolved or expired during retries), cancelled (before the deadline)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly databaseUp = new Gauge({
    name: 'realtime_database_up',
    help: '1 when the last database check answered',
    registers: [this.registry],
  });
  /** Registered only when Redis is configured (RedisService): absent, not -1, without it. */
  readonly redisUp = new Gauge({
    name: 'realtime_redis_up',
    help: '1 when Redis answers, 0 when it does not (absent when Redis is not configured)',
    registers: [],
  });
  readonly redisConfigured = new Gauge({
    name: 'realtime_redis_configured',
    help: '1 when REDIS_URL is set (several nodes share state), 0 for a single in-memory node',
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status (Socket.IO not included)',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration from receipt to the end of the response, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly messagesStored = new Counter({
    name: 'realtime_messages_stored_total',
    help: 'Messages durably stored',
    registers: [this.registry],
  });
  readonly redisFailures = new Counter({
    name: 'realtime_redis_failures_total',
    help: 'Redis operations that failed or timed out (REDIS_COMMAND_TIMEOUT_MS) and fell back, by operation',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  readonly adapterRecoveries = new Counter({
    name: 'realtime_adapter_recoveries_total',
    help: 'Times this node’s link to the adapter’s Redis came back and sync:required was sent to its sockets',
    registers: [this.registry],
  });

  readonly draining = new Gauge({
    name: 'realtime_draining',
    help: '1 while this node drains (SIGTERM): /ready answers 503, new handshakes are refused',
    registers: [this.registry],
  });

  readonly slowConsumersDropped = new Counter({
    name: 'realtime_slow_consumers_dropped_total',
    help: 'Sockets disconnected because their outgoing buffer passed WS_MAX_BUFFERED_BYTES',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  onModuleDestroy(): void {
    this.registry.clear();
  }
}
