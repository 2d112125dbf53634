import { Global, Module } from '@nestjs/common';
import { HealthService } from './health.service.js';

/**
 * Readiness (`HealthService`: the database ping, the Redis check RedisService registers,
 * draining). Its own folder above observability and persistence: it pings the database handle,
 * and persistence logs through observability.
 */
@Global()
@Module({
  providers: [HealthService],
  exports: [HealthService],
})
export class HealthModule {}
