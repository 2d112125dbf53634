import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { CommunicationGateway, RootGateway } from './gateway/core.gateway.js';
import { EventRouterModule } from './gateway/router/event-router.module.js';
import { HttpExceptionFilter } from './http/http-exception.filter.js';
import { DemoModule } from './demo/demo.module.js';
import { InfrastructureModule, type AppOptions } from './infrastructure.module.js';
import { HealthController } from './health/health.controller.js';
import { AlertsModule } from './alerts/alerts.module.js';
import { ChannelsModule } from './channels/channels.module.js';
import { MessagingModule } from './messaging/messaging.module.js';
import { NotificationsModule } from './notifications/notifications.module.js';
import { PersistenceModule } from './persistence/persistence.module.js';
import { PresenceModule } from './presence/presence.module.js';
import { RevocationModule } from './revocation/revocation.module.js';
import { RateLimitsModule } from './rate-limit-admin/rate-limits.module.js';

@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        InfrastructureModule.forRoot(options),
        PersistenceModule,
        EventRouterModule,
        MessagingModule,
        PresenceModule,
        RevocationModule,
        NotificationsModule,
        AlertsModule,
        ChannelsModule,
        RateLimitsModule,
        // Development only: the demo token endpoint does not exist in production.
        ...(options.config.demoEnabled && !options.config.isProduction ? [DemoModule] : []),
      ],
      controllers: [HealthController],
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        RootGateway,
        CommunicationGateway,
      ],
    };
  }
}
