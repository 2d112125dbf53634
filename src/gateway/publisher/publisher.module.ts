import { Global, Module } from '@nestjs/common';
import { CoalescedFanout } from './coalesced-fanout.js';
import { RealtimePublisher } from './realtime.publisher.js';

/**
 * The RealtimePublisher, the only code that emits, joins, leaves or disconnects, and its
 * coalescing front for storm fan-out (CoalescedFanout).
 */
@Global()
@Module({
  providers: [RealtimePublisher, CoalescedFanout],
  exports: [RealtimePublisher, CoalescedFanout],
})
export class PublisherModule {}
