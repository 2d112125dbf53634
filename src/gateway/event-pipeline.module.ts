import { Global, Module } from '@nestjs/common';
import { EventOutcomes } from './event-outcomes.js';
import { HotEventRouter } from './hot-events.js';
import { InFlightTracker } from './in-flight.js';

/** What every gateway's event handling shares: outcomes/metrics, in-flight tracking, hot routes. */
@Global()
@Module({
  providers: [InFlightTracker, EventOutcomes, HotEventRouter],
  exports: [InFlightTracker, EventOutcomes, HotEventRouter],
})
export class EventPipelineModule {}
