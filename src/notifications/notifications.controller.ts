import { Body, Controller, HttpCode, Post, UseGuards, UsePipes } from '@nestjs/common';
import { ApiAuthGuard, Principal, type ApiPrincipal } from '../auth/api-auth.guard.js';
import { HttpValidationPipe } from '../http/http-validation.pipe.js';
import { RequestId } from '../http/request-id.js';
import { NotificationCreateDto } from './notification.dto.js';
import { NotificationsService } from './notifications.service.js';

@Controller('api/v1/notifications')
@UseGuards(ApiAuthGuard)
@UsePipes(HttpValidationPipe)
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @Post()
  @HttpCode(202)
  send(
    @Principal() principal: ApiPrincipal,
    @Body() body: NotificationCreateDto,
    @RequestId() requestId: string | undefined,
  ): Promise<{ ids: string[]; recipients: number }> {
    return this.notifications.send(principal, body, requestId);
  }
}
