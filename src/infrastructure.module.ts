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
import { HealthService } from './observability/health.service.js';
import { pinoParams } from './observability/logger.js';
import { DATABASE, openPglite, openPostgres, type DatabaseHandle } from './persistence/database.js';
import { MemoryRateLimitStore } from './rate-limit/memory-rate-limit.store.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit/rate-limit.store.js';
import { RateLimitService } from './rate-limit/rate-limit.service.js';
import { WsThrottleGuard } from './rate-limit/ws-throttle.guard.js';
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

@Injectable()
class InfrastructureLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @Inject(RATE_LIMIT_STORE) private readonly rateLimitStore: RateLimitStore,
    @Inject(CONNECTION_COUNTER) private readonly counter: ConnectionCounter,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.rateLimitStore.close();
    await this.counter.close();
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
        { provide: RATE_LIMIT_STORE, useFactory: (): RateLimitStore => new MemoryRateLimitStore() },
        {
          provide: CONNECTION_COUNTER,
          useFactory: (): ConnectionCounter => new MemoryConnectionCounter(),
        },
        MetricsService,
        HealthService,
        AuditService,
        TokenVerifier,
        RateLimitService,
        WsThrottleGuard,
        RealtimePublisher,
        SessionService,
        InfrastructureLifecycle,
      ],
      exports: [
        APP_CONFIG,
        DATABASE,
        RATE_LIMIT_STORE,
        CONNECTION_COUNTER,
        MetricsService,
        HealthService,
        AuditService,
        TokenVerifier,
        RateLimitService,
        WsThrottleGuard,
        RealtimePublisher,
        SessionService,
      ],
    };
  }
}
