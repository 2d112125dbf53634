import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import { PresenceGateway } from './presence.gateway.js';
import { PresenceService } from './presence.service.js';
import { PRESENCE_STORE, type PresenceStore } from './presence.store.js';
import { RedisPresenceStore } from './redis-presence.store.js';

/** Presence; the store is memory on one node, Redis (sessions with node heartbeats) with REDIS_URL. */
@Module({
  imports: [MembersModule],
  providers: [
    {
      provide: PRESENCE_STORE,
      inject: [RedisService],
      useFactory: (redis: RedisService): PresenceStore => {
        if (!redis.connections || !redis.registry) return new MemoryPresenceStore();
        const store = new RedisPresenceStore(redis.connections.command, {
          prefix: redis.key(''),
          nodeId: redis.registry.nodeId,
          nodesKey: redis.registry.key,
          onError: (err) => redis.failure('presence', err),
        });
        redis.registry.onDeadNodes((ids) => store.reapNodes(ids).then(() => undefined));
        // Back from an outage (or a restarted, empty Redis): write this node's sessions back.
        redis.onReconnect(
          () => void store.resync().catch((err: Error) => redis.failure('presence-resync', err)),
        );
        return store;
      },
    },
    PresenceService,
    PresenceGateway,
  ],
  exports: [PresenceService],
})
export class PresenceModule {}
