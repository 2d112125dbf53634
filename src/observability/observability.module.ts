import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from '../config/config.js';
import { DependencyLog } from './dependency-log.js';
import { pinoParams } from './logger.js';
import { MetricsService } from './metrics.service.js';

/** Logging (pino with redaction), Prometheus metrics, dependency failure log. */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(config: AppConfig, logDestination?: DestinationStream): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [LoggerModule.forRoot(pinoParams(config, logDestination))],
      providers: [DependencyLog, MetricsService],
      exports: [DependencyLog, MetricsService],
    };
  }
}
