import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { ChannelPublishService } from './channel-publish.service.js';
import { ChannelService } from './channel.service.js';
import { ChannelsController } from './channels.controller.js';

@Module({
  imports: [MembersModule],
  controllers: [ChannelsController],
  providers: [ChannelService, ChannelPublishService],
})
export class ChannelsModule {}
