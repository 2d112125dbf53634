import { Module } from '@nestjs/common';
import { RevocationModule } from '../revocation/revocation.module.js';
import { ChannelPublishService } from './channel-publish.service.js';
import { ChannelService } from './channel.service.js';
import { ChannelsController } from './channels.controller.js';

@Module({
  imports: [RevocationModule],
  controllers: [ChannelsController],
  providers: [ChannelService, ChannelPublishService],
})
export class ChannelsModule {}
