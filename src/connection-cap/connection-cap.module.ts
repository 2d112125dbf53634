import { Global, Module } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import {
  CONNECTION_COUNTER,
  MemoryConnectionCounter,
  type ConnectionCounter,
} from './connection-counter.js';
import { RedisConnectionCounter } from './redis-connection-counter.js';

/**
 * The `ConnectionCounter` port (WS_MAX_CONNECTIONS_PER_USER, §12.3), chosen once at start:
 * memory on one node, or a Redis counter shared by the nodes (with REDIS_URL or
 * REDIS_CLUSTER_NODES) whose dead nodes' slots are freed through the node registry and which
 * writes this node's slots back after Redis lost them (§12.8).
 */
@Global()
@Module({
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
  ],
  exports: [CONNECTION_COUNTER],
})
export class ConnectionCapModule {}
