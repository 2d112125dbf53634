import { Global, Module } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { MemoryRateLimitStore } from './memory-rate-limit.store.js';
import { RateLimitService } from './rate-limit.service.js';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit.store.js';
import { RedisRateLimitStore } from './redis-rate-limit.store.js';

/**
 * Token buckets (§7, §12.3): the `RateLimitStore` port — chosen here, memory on one node, one
 * Redis Lua bucket across nodes with REDIS_URL — `RateLimitService`.
 * (The operators' HTTP API over them is RateLimitsModule.)
 */
@Global()
@Module({
  providers: [
    {
      provide: RATE_LIMIT_STORE,
      inject: [RedisService],
      useFactory: (redis: RedisService): RateLimitStore =>
        redis.connections
          ? new RedisRateLimitStore(redis.connections.command, {
              prefix: redis.key('rl:'),
              onFallback: (err) => redis.failure('rate-limit', err),
            })
          : new MemoryRateLimitStore(),
    },
    RateLimitService,
  ],
  exports: [RATE_LIMIT_STORE, RateLimitService],
})
export class RateLimitingModule {}
