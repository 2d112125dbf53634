import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { ChannelPublishService } from './channel-publish.service.js';
import { ChannelService } from './channel.service.js';
import { ChannelsController } from './channels.controller.js';
import { ChannelsGateway } from './channels.gateway.js';

@Module({
  imports: [MembersModule],
  controllers: [ChannelsController],
  providers: [ChannelService, ChannelPublishService, ChannelsGateway],
})
export class ChannelsModule {}
