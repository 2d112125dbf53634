import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConnectionLifecycle } from './connection-lifecycle.service.js';
import {
  CONNECTION_COUNTER,
  type ConnectionCounter,
} from '../../connection-cap/connection-counter.js';
import { DrainService } from './drain.service.js';
import { HandshakeSlots } from './handshake-slot.js';
import { HandshakeService } from './handshake.service.js';
import { SessionExpiry } from './session-expiry.service.js';
import { SessionService } from './session.service.js';

/**
 * Socket sessions (the gateway layer): the handshake, §4's connection sequence and the
 * `@ConnectionHook`s of every module, expiry and refresh, drain. The per-user cap counts through
 * the ConnectionCounter port (src/connection-cap/).
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: HandshakeSlots,
      inject: [CONNECTION_COUNTER],
      useFactory: (counter: ConnectionCounter) => new HandshakeSlots(counter),
    },
    HandshakeService,
    ConnectionLifecycle,
    SessionExpiry,
    DrainService,
    SessionService,
  ],
  exports: [SessionService],
})
export class SessionsModule {}
