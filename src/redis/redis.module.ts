import { Global, Module } from '@nestjs/common';
import { RedisService } from './redis.service.js';

/**
 * The Redis connections (REDIS_URL; none without it) and the node registry. Every Redis-backed
 * port (adapter, rate-limit store, connection counter, presence store, revocation bus) chooses
 * its implementation from `RedisService.connections` in its own module.
 */
@Global()
@Module({ providers: [RedisService], exports: [RedisService] })
export class RedisModule {}
