import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { EventRouter } from './event-router.js';

/** The event router and what it needs to find the handlers (as ScheduleModule does). */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [EventRouter],
  exports: [EventRouter],
})
export class EventRouterModule {}
