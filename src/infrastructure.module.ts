import {
  Global,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  Inject,
  Injectable,
} from '@nestjs/common';
import { join } from 'node:path';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { APP_CONFIG, type AppConfig } from './config/config.js';
import { AuditService } from './audit/audit.service.js';
import { TokenVerifier } from './auth/token-verifier.service.js';
import { MetricsService } from './observability/metrics.service.js';
import { DependencyLog } from './observability/dependency-log.js';
import { HealthService } from './observability/health.service.js';
import { pinoParams } from './observability/logger.js';
import { DATABASE, openPglite, openPostgres, type DatabaseHandle } from './persistence/database.js';
import { MemoryRateLimitStore } from './rate-limit/memory-rate-limit.store.js';
import { RedisRateLimitStore } from './rate-limit/redis-rate-limit.store.js';
import { RedisService } from './redis/redis.service.js';
import { EventOutcomes } from './gateway/event-outcomes.js';
import { InFlightTracker } from './gateway/in-flight.js';
import { RedisConnectionCounter } from './sessions/redis-connection-counter.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit/rate-limit.store.js';
import { RateLimitService } from './rate-limit/rate-limit.service.js';
import {
  CONNECTION_COUNTER,
  MemoryConnectionCounter,
  type ConnectionCounter,
} from './sessions/connection-counter.js';
import { RealtimePublisher } from './sessions/realtime.publisher.js';
import { SessionService } from './sessions/session.service.js';

export interface AppOptions {
  config: AppConfig;
  /** Tests: an already open database (e.g. a PGlite cloned from a migrated template). */
  database?: DatabaseHandle;
  /** Tests: where log lines go (default stdout). */
  logDestination?: DestinationStream;
}

export async function openDatabase(config: AppConfig): Promise<DatabaseHandle> {
  return config.databaseUrl
    ? openPostgres(config.databaseUrl)
    : openPglite({ dataDir: join(config.dataDir, 'pglite') });
}

/**
 * On a graceful stop the node's heartbeat is left to expire after this long instead of being
 * removed: users who reconnect to another node meanwhile never look offline (no presence flap);
 * the others are announced offline by a surviving node when it reaps this one.
 */
export const REDIS_SHUTDOWN_GRACE_MS = 3000;

@Injectable()
class InfrastructureLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @Inject(RATE_LIMIT_STORE) private readonly rateLimitStore: RateLimitStore,
    @Inject(CONNECTION_COUNTER) private readonly counter: ConnectionCounter,
    private readonly redis: RedisService,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.rateLimitStore.close();
    await this.counter.close();
    await this.redis.close(REDIS_SHUTDOWN_GRACE_MS);
    await this.database.close();
  }
}

/**
 * Config, logging, metrics, database, audit, token verification, rate limits, sessions: the
 * ports every feature module uses, each chosen once from config (memory / PGlite by default).
 */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(options: AppOptions): DynamicModule {
    const { config } = options;
    return {
      module: InfrastructureModule,
      imports: [LoggerModule.forRoot(pinoParams(config, options.logDestination))],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: DATABASE, useFactory: () => options.database ?? openDatabase(config) },
        DependencyLog,
        RedisService,
        InFlightTracker,
        EventOutcomes,
        {
          provide: RATE_LIMIT_STORE,
          inject: [RedisService],
          useFactory: (redis: RedisService): RateLimitStore =>
            redis.connections
              ? new RedisRateLimitStore(redis.connections.command, {
                  prefix: redis.key('rl:'),
                  onFallback: (err) => redis.failure('rate-limit', err),
                })
              : new MemoryRateLimitStore(),
        },
        {
          provide: CONNECTION_COUNTER,
          inject: [RedisService],
          useFactory: (redis: RedisService): ConnectionCounter => {
            if (!redis.connections || !redis.registry) return new MemoryConnectionCounter();
            const counter = new RedisConnectionCounter(redis.connections.command, {
              prefix: redis.key(''),
              nodeId: redis.registry.nodeId,
              nodesKey: redis.registry.key,
              onError: (err) => redis.failure('connection-counter', err),
            });
            // Slots count live sockets only, on every node (§12.3, §12.8).
            redis.registry.onDeadNodes((ids) => counter.reapNodes(ids));
            redis.registry.onBeat(({ lapsed }) =>
              lapsed || counter.needsResync ? counter.resync() : undefined,
            );
            return counter;
          },
        },
        MetricsService,
        HealthService,
        AuditService,
        TokenVerifier,
        RateLimitService,
        RealtimePublisher,
        SessionService,
        InfrastructureLifecycle,
      ],
      exports: [
        APP_CONFIG,
        DATABASE,
        RATE_LIMIT_STORE,
        CONNECTION_COUNTER,
        DependencyLog,
        RedisService,
        InFlightTracker,
        EventOutcomes,
        MetricsService,
        HealthService,
        AuditService,
        TokenVerifier,
        RateLimitService,
        RealtimePublisher,
        SessionService,
      ],
    };
  }
}
