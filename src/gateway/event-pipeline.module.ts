import { Global, Module } from '@nestjs/common';
import { EventOutcomes } from './event-outcomes.js';
import { InFlightTracker } from './in-flight.js';

/** What every gateway's event handling shares: outcomes/metrics, in-flight tracking. */
@Global()
@Module({
  providers: [InFlightTracker, EventOutcomes],
  exports: [InFlightTracker, EventOutcomes],
})
export class EventPipelineModule {}
