import { NotificationSyncHook } from './notification-sync.hook.js';
import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { NotificationsController } from './notifications.controller.js';
import { NotificationsGateway } from './notifications.gateway.js';
import { NotificationsRepository } from './notifications.repository.js';
import { NotificationsService } from './notifications.service.js';

@Module({
  imports: [MembersModule],
  controllers: [NotificationsController],
  providers: [
    NotificationsRepository,
    NotificationsService,
    NotificationsGateway,
    NotificationSyncHook,
  ],
})
export class NotificationsModule {}
