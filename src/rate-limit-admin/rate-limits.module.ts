import { Module } from '@nestjs/common';
import { RevocationModule } from '../revocation/revocation.module.js';
import { RateLimitsController } from './rate-limits.controller.js';

/** Operators' HTTP API for rate limits (the limits themselves live in RateLimitingModule). */
@Module({
  imports: [RevocationModule],
  controllers: [RateLimitsController],
})
export class RateLimitsModule {}
