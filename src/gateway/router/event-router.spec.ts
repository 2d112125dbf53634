import 'reflect-metadata';
import { Global, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { ChannelDto } from '../../protocol/dto/client.dto.js';
import { RateLimitService } from '../../rate-limit/rate-limit.service.js';
import { EventOutcomes } from '../event-outcomes.js';
import { InFlightTracker } from '../in-flight.js';
import { EventRouterModule } from './event-router.module.js';
import { RealtimeEvent, RealtimeGateway } from './realtime-event.decorator.js';

const pong = () => ({ pong: true as const, serverTime: new Date(0).toISOString() });

@Injectable()
@RealtimeGateway(['/'])
class PingGateway {
  @RealtimeEvent('ping', { dto: null })
  ping() {
    return pong();
  }
}

@Injectable()
@RealtimeGateway(['/', '/communication'])
class OtherPingGateway {
  @RealtimeEvent('ping', { dto: null })
  alsoPing() {
    return pong();
  }
}

/** A handler that validates with another DTO than the one the docs are generated from. */
@Injectable()
@RealtimeGateway(['/'])
class OtherDtoGateway {
  @RealtimeEvent('ping', { dto: ChannelDto })
  ping() {
    return pong();
  }
}

@Injectable()
@RealtimeGateway(['/'])
class IncompleteGateway {
  @RealtimeEvent('ping', { dto: null })
  ping() {
    return pong();
  }
}

/** The pipeline's collaborators: not reached, only the start-time checks run. */
@Global()
@Module({
  providers: [
    { provide: RateLimitService, useValue: {} },
    { provide: EventOutcomes, useValue: {} },
    InFlightTracker,
  ],
  exports: [RateLimitService, EventOutcomes, InFlightTracker],
})
class Collaborators {}

/** Starts a Nest application context with the router and the given gateways. */
async function start(...gateways: Array<new (...args: never[]) => object>): Promise<void> {
  const moduleRef = await Test.createTestingModule({
    imports: [Collaborators, EventRouterModule],
    providers: gateways,
  }).compile();
  try {
    await moduleRef.init();
  } finally {
    await moduleRef.close();
  }
}

describe('EventRouter start-time checks', () => {
  it('refuses two handlers for one event in one namespace, naming both', async () => {
    await expect(start(PingGateway, OtherPingGateway)).rejects.toThrow(
      /"ping" on \/ has two handlers: (PingGateway\.ping and OtherPingGateway\.alsoPing|OtherPingGateway\.alsoPing and PingGateway\.ping)/,
    );
  });

  it('refuses a handler that validates with another DTO than the documented one', async () => {
    await expect(start(OtherDtoGateway)).rejects.toThrow(
      /OtherDtoGateway\.ping \(ping\): validates with ChannelDto, but CLIENT_EVENT_DTOS documents no payload/,
    );
  });

  it('refuses tables that do not serve the contract’s events of each namespace', async () => {
    await expect(start(IncompleteGateway)).rejects.toThrow(
      /realtime handlers on \/ differ from NAMESPACE_EVENTS: missing \[subscribe, /,
    );
  });
});
