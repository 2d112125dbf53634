import { Global, Module } from '@nestjs/common';
import { RealtimePublisher } from './realtime.publisher.js';

/** The RealtimePublisher: the only code that emits, joins, leaves or disconnects. */
@Global()
@Module({ providers: [RealtimePublisher], exports: [RealtimePublisher] })
export class PublisherModule {}
