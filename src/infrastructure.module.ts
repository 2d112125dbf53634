import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { AuditModule } from './audit/audit.module.js';
import { AuthModule } from './auth/auth.module.js';
import { AppConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.js';
import { EventPipelineModule } from './gateway/event-pipeline.module.js';
import { HealthModule } from './health/health.module.js';
import { PublisherModule } from './gateway/publisher/publisher.module.js';
import { ObservabilityModule } from './observability/observability.module.js';
import { DATABASE, type DatabaseHandle } from './persistence/database.js';
import { DatabaseModule } from './persistence/database.module.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit/rate-limit.store.js';
import { RateLimitingModule } from './rate-limit/rate-limiting.module.js';
import { RedisModule } from './redis/redis.module.js';
import { RedisService } from './redis/redis.service.js';
import { CONNECTION_COUNTER, type ConnectionCounter } from './connection-cap/connection-counter.js';
import { ConnectionCapModule } from './connection-cap/connection-cap.module.js';
import { SessionsModule } from './gateway/sessions/sessions.module.js';

export { openDatabase } from './persistence/database.module.js';

export interface AppOptions {
  config: AppConfig;
  /** Tests: an already open database (e.g. a PGlite cloned from a migrated template). */
  database?: DatabaseHandle;
  /** Tests: where log lines go (default stdout). */
  logDestination?: DestinationStream;
}

/**
 * On a graceful stop the node's heartbeat is left to expire after this long instead of being
 * removed: users who reconnect to another node meanwhile never look offline (no presence flap);
 * the others are announced offline by a surviving node when it reaps this one.
 */
export const REDIS_SHUTDOWN_GRACE_MS = 3000;

/**
 * Closes the ports in dependency order, after every feature module and the audit flush have
 * shut down: this module is the first global module Nest registers, so its shutdown hook runs
 * last among them.
 */
@Injectable()
class InfrastructureShutdown implements OnApplicationShutdown {
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
 * What every feature module stands on, one module per concern, each port's implementation
 * chosen once from config inside its module (memory / PGlite by default; Redis, PostgreSQL when
 * configured): configuration, observability, database, readiness, Redis, audit, auth, rate limiting,
 * sessions, the publisher and the event pipeline. This module composes them and closes the
 * ports in order at shutdown.
 */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(options: AppOptions): DynamicModule {
    const { config } = options;
    return {
      module: InfrastructureModule,
      imports: [
        AppConfigModule.forRoot(config),
        ObservabilityModule.forRoot(config, options.logDestination),
        DatabaseModule.forRoot(config, options.database),
        HealthModule,
        RedisModule,
        AuditModule,
        AuthModule,
        RateLimitingModule,
        PublisherModule,
        ConnectionCapModule,
        SessionsModule,
        EventPipelineModule,
      ],
      providers: [InfrastructureShutdown],
    };
  }
}
