import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { MetricsService } from './metrics.service.js';

export type CheckState = 'up' | 'down' | 'disabled';

/** Readiness: the database always, Redis when configured (its module registers the check). */
@Injectable()
export class HealthService {
  private redisCheck?: () => Promise<boolean>;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly metrics: MetricsService,
  ) {}

  registerRedisCheck(check: () => Promise<boolean>): void {
    this.redisCheck = check;
  }

  async readiness(): Promise<{
    status: 'ok' | 'unavailable';
    checks: { database: CheckState; redis: CheckState };
  }> {
    const timeout = <T>(p: Promise<T>) =>
      Promise.race([
        p,
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000).unref()),
      ]);
    const database: CheckState = await timeout(this.database.ping()).then(
      () => 'up' as const,
      () => 'down' as const,
    );
    this.metrics.databaseUp.set(database === 'up' ? 1 : 0);
    let redis: CheckState = 'disabled';
    if (this.redisCheck) {
      redis = await timeout(this.redisCheck()).then(
        (ok) => (ok ? ('up' as const) : ('down' as const)),
        () => 'down' as const,
      );
      this.metrics.redisUp.set(redis === 'up' ? 1 : 0);
    }
    const ok = database === 'up' && redis !== 'down';
    return { status: ok ? 'ok' : 'unavailable', checks: { database, redis } };
  }
}
