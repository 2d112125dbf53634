import { Controller, Get, HttpCode, Inject, Param, Post, Query, UseGuards } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig, type BucketSpec } from '../config/config.js';
import {
  ApiAuthGuard,
  assertOrganizationAccess,
  Principal,
  type ApiPrincipal,
} from '../auth/api-auth.guard.js';
import { RequestId } from '../http/request-id.js';
import { MembersService } from '../members/members.service.js';
import { MetricsService } from '../observability/metrics.service.js';
import { ID_PATTERN } from '../protocol/constants.js';
import { AppError } from '../protocol/errors.js';
import type { UserKey } from '../protocol/user-key.js';
import { CLIENT_EVENT_NAMES, RateLimitService } from '../rate-limit/rate-limit.service.js';

export interface BucketView extends BucketSpec {
  event: string;
  tokensLeft: number;
}

/**
 * Operators' view of §7 (docs/scaling.md): the configured limits with rejection counts, a user's
 * tokens per event, and a reset that refills every bucket of a user on every node. A user is
 * (organizationId, userId) (§12.1): `?organizationId=` names the organization, by default the
 * caller's own. `service` tokens: any organization; `admin`: members of its own organization only
 * (another organization → 403).
 */
@Controller('api/v1/rate-limits')
@UseGuards(ApiAuthGuard)
export class RateLimitsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limits: RateLimitService,
    private readonly members: MembersService,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  async overview(): Promise<{
    limits: AppConfig['rateLimits'];
    rejected: Array<{ scope: string; event: string; count: number }>;
  }> {
    const metric = await this.metrics.rateLimited.get();
    return {
      limits: this.config.rateLimits,
      rejected: metric.values.map((v) => ({
        scope: String(v.labels.scope),
        event: String(v.labels.event),
        count: v.value,
      })),
    };
  }

  @Get(':userId')
  async user(
    @Principal() principal: ApiPrincipal,
    @Param('userId') userId: string,
    @Query('organizationId') organizationId: unknown,
  ): Promise<{ userId: string; organizationId: string; buckets: BucketView[] }> {
    const user = await this.authorize(principal, userId, organizationId);
    const buckets = await Promise.all(
      CLIENT_EVENT_NAMES.map(async (event) => ({
        event,
        ...this.limits.specFor(event),
        tokensLeft: await this.limits.tokensLeft(user, event),
      })),
    );
    return { userId, organizationId: user.organizationId, buckets };
  }

  @Post(':userId/reset')
  @HttpCode(200)
  async reset(
    @Principal() principal: ApiPrincipal,
    @Param('userId') userId: string,
    @Query('organizationId') organizationId: unknown,
    @RequestId() requestId: string | undefined,
  ): Promise<{ userId: string; organizationId: string; bucketsReset: number }> {
    const user = await this.authorize(principal, userId, organizationId);
    const bucketsReset = await this.limits.resetUser(user);
    await this.audit.record({
      actorId: principal.userId,
      organizationId: user.organizationId,
      action: 'rate-limit.reset',
      resourceType: 'user',
      resourceId: userId,
      outcome: 'success',
      requestId,
      details: { bucketsReset, actorOrganizationId: principal.organizationId },
    });
    return { userId, organizationId: user.organizationId, bucketsReset };
  }

  private async authorize(
    principal: ApiPrincipal,
    userId: string,
    organizationId: unknown,
  ): Promise<UserKey> {
    if (!ID_PATTERN.test(userId))
      throw AppError.validation([{ field: 'userId', constraints: ['matches'] }]);
    if (
      organizationId !== undefined &&
      (typeof organizationId !== 'string' || !ID_PATTERN.test(organizationId))
    )
      throw AppError.validation([{ field: 'organizationId', constraints: ['matches'] }]);
    const target = typeof organizationId === 'string' ? organizationId : principal.organizationId;
    assertOrganizationAccess(principal, target);
    if (principal.role === 'admin' && !(await this.members.isMember(target, userId))) {
      throw AppError.forbidden('Admins may see and reset members of their own organization only');
    }
    return { organizationId: target, userId };
  }
}
