import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DependencyLog } from '../observability/dependency-log.js';
import { HealthService } from '../health/health.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import { NodeRegistry, nodeInstanceId } from './node-registry.js';
import { RedisConnections } from './redis.connections.js';

/**
 * Redis for this node when `config.redis` is set (else everything is `null` and the app runs on
 * one node in memory): the connections, the node registry (heartbeats, dead-node reaping), the
 * readiness check and `realtime_redis_up`. Closed last by InfrastructureLifecycle.
 */
@Injectable()
export class RedisService implements OnModuleInit {
  readonly connections: RedisConnections | null = null;
  readonly registry: NodeRegistry | null = null;
  private readonly reconnectListeners: Array<() => void> = [];

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly health: HealthService,
    @InjectPinoLogger('redis') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
  ) {
    const cfg = config.redis;
    this.metrics.redisConfigured.set(cfg ? 1 : 0);
    if (!cfg) return;
    this.metrics.registry.registerMetric(this.metrics.redisUp);
    this.connections = new RedisConnections(
      cfg,
      { warn: (o, m) => this.logger.warn(o, m), info: (o, m) => this.logger.info(o, m) },
      (up) => this.metrics.redisUp.set(up ? 1 : 0),
    );
    this.registry = new NodeRegistry(this.connections.command, {
      prefix: cfg.keyPrefix,
      // NODE_ID plus an id per process start (#12 point 1; see nodeInstanceId).
      nodeId: nodeInstanceId(config.nodeId),
      ttlMs: cfg.nodeTtlMs,
      heartbeatMs: Math.max(200, Math.floor(cfg.nodeTtlMs / 3)),
      onError: (err) => this.failure('heartbeat', err),
    });
    // After a Redis restart (empty data) re-register at once, before any slot is counted; then
    // let stores write back what they hold locally.
    let wasReady = false;
    this.connections.command.on('ready', () => {
      const again = wasReady;
      wasReady = true;
      void this.registry
        ?.beat()
        .catch(() => undefined)
        .then(() => {
          if (again) for (const l of this.reconnectListeners) l();
        });
    });
    this.registry.onBeat(({ lapsed }) => {
      // Frozen (SIGSTOP, GC, blocked event loop) past REDIS_NODE_TTL_MS, or Redis lost its data:
      // other nodes stopped counting this node's users; presence and slots are written back.
      if (lapsed)
        this.logger.warn(
          { ttlMs: cfg.nodeTtlMs },
          'node heartbeat had lapsed; writing this node’s presence sessions and slots back',
        );
    });
    this.health.registerRedisCheck(() => this.connections!.ping());
  }

  /** Called each time the command client is ready again after having been disconnected. */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  get enabled(): boolean {
    return this.connections !== null;
  }

  key(...parts: string[]): string {
    return (this.config.redis?.keyPrefix ?? '') + parts.join(':');
  }

  async onModuleInit(): Promise<void> {
    if (!this.connections || !this.registry) return;
    const ready = await this.connections.waitReady(this.config.isProduction ? 10_000 : 3000);
    this.metrics.redisUp.set(ready ? 1 : 0);
    if (!ready)
      this.logger.warn(
        { host: this.config.redis!.host, port: this.config.redis!.port },
        'redis not reachable at start; retrying in the background',
      );
    const previous = await this.registry.start();
    if (previous.length > 0)
      this.logger.info(
        { previousLives: previous.length },
        'reaped what earlier processes of this NODE_ID left in Redis',
      );
  }

  /** A Redis operation failed (or timed out): logged at most once per operation per 5 s (§12.8). */
  failure(operation: string, err: Error): void {
    this.metrics.redisFailures.inc({ operation });
    this.dependencyLog.failed('redis', operation, err, {
      timedOut: err.message === 'Command timed out',
    });
  }

  /** The adapter's link to Redis came back: `sockets` were told to catch up (`sync:required`). */
  adapterRecovered(sockets: number): void {
    this.metrics.adapterRecoveries.inc();
    this.logger.info({ sockets }, 'redis adapter link recovered; sync:required sent');
  }

  async close(graceMs = 0): Promise<void> {
    if (!this.connections) return;
    await this.registry?.stop(graceMs);
    await this.connections.close();
  }
}
