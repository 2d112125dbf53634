import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ChannelService } from './channels/channel.service.js';
import { CommunicationGateway, RootGateway } from './gateway/core.gateway.js';
import { EventInterceptor } from './gateway/event.interceptor.js';
import { WsExceptionsFilter } from './gateway/ws-exceptions.filter.js';
import { WsValidationPipe } from './gateway/ws-validation.pipe.js';
import { HttpExceptionFilter } from './http/http-exception.filter.js';
import { InfrastructureModule, type AppOptions } from './infrastructure.module.js';
import { HealthController } from './observability/health.controller.js';
import { MessagingModule } from './messaging/messaging.module.js';

@Module({})
export class AppModule {
  static forRoot(options: AppOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [InfrastructureModule.forRoot(options), MessagingModule],
      controllers: [HealthController],
      providers: [
        { provide: APP_FILTER, useClass: HttpExceptionFilter },
        WsExceptionsFilter,
        WsValidationPipe,
        EventInterceptor,
        ChannelService,
        RootGateway,
        CommunicationGateway,
      ],
    };
  }
}
