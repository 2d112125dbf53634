import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { RedisService } from '../redis/redis.service.js';
import { ConnectionLifecycle } from './connection-lifecycle.service.js';
import {
  CONNECTION_COUNTER,
  MemoryConnectionCounter,
  type ConnectionCounter,
} from './connection-counter.js';
import { DrainService } from './drain.service.js';
import { HandshakeSlots } from './handshake-slot.js';
import { HandshakeService } from './handshake.service.js';
import { RedisConnectionCounter } from './redis-connection-counter.js';
import { SessionExpiry } from './session-expiry.service.js';
import { SessionService } from './session.service.js';

/**
 * Socket sessions: the handshake, §4's connection sequence and hooks, expiry and refresh, drain.
 * The `ConnectionCounter` port (the per-user cap) is chosen here: memory on one node, a Redis
 * counter whose dead nodes' slots are freed by the node registry with REDIS_URL.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [
    {
      provide: CONNECTION_COUNTER,
      inject: [RedisService],
      useFactory: (redis: RedisService): ConnectionCounter => {
        if (!redis.connections || !redis.registry) return new MemoryConnectionCounter();
        const counter = new RedisConnectionCounter(redis.connections.command, {
          prefix: redis.key(''),
          nodeId: redis.registry.nodeId,
          nodesKey: redis.registry.key,
          onError: (err) => redis.failure('connection-counter', err),
        });
        // Slots count live sockets only, on every node (§12.3, §12.8).
        redis.registry.onDeadNodes((ids) => counter.reapNodes(ids));
        redis.registry.onBeat(({ lapsed }) =>
          lapsed || counter.needsResync ? counter.resync() : undefined,
        );
        return counter;
      },
    },
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
  exports: [CONNECTION_COUNTER, SessionService],
})
export class SessionsModule {}
