import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { RedisService } from '../redis/redis.service.js';
import { MemoryPresenceStore } from './memory-presence.store.js';
import { PresenceGateway } from './presence.gateway.js';
import { PresenceHook } from './presence.hook.js';
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
          // Changes arrive in the order Redis applied them (#12 point 11).
          subscriber: redis.connections.create('presence-events'),
          onError: (err) => redis.failure('presence', err),
        });
        redis.registry.onDeadNodes((ids) => store.reapNodes(ids).then(() => undefined));
        // Write this node's sessions back whenever Redis may disagree with them: this node was
        // reaped or lapsed (frozen past the TTL, Redis restarted empty), or a write failed while
        // Redis was unreachable (sessions closed meanwhile are removed, not written back) (§12.8).
        redis.registry.onBeat(({ lapsed }) =>
          lapsed || store.needsResync ? store.resync() : undefined,
        );
        return store;
      },
    },
    PresenceService,
    PresenceGateway,
    PresenceHook,
  ],
  exports: [PresenceService],
})
export class PresenceModule {}
