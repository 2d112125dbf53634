import { Body, Controller, HttpCode, Post, UseGuards, UsePipes } from '@nestjs/common';
import { ApiAuthGuard, Principal, type ApiPrincipal } from '../auth/api-auth.guard.js';
import { HttpValidationPipe } from '../http/http-validation.pipe.js';
import { ChannelPublishService } from './channel-publish.service.js';
import { ChannelPublishDto } from './publish.dto.js';

@Controller('api/v1/channels')
@UseGuards(ApiAuthGuard)
@UsePipes(HttpValidationPipe)
export class ChannelsController {
  constructor(private readonly channels: ChannelPublishService) {}

  @Post('publish')
  @HttpCode(202)
  publish(
    @Principal() principal: ApiPrincipal,
    @Body() body: ChannelPublishDto,
  ): Promise<{ channel: string; publishedAt: string }> {
    return this.channels.publish(
      principal,
      body.channel,
      body.event,
      body.data ?? null,
      body.organizationId,
    );
  }
}
