import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { MetricsService } from '../observability/metrics.service.js';

export type CheckState = 'up' | 'down' | 'disabled';
export type ReadyStatus = 'ok' | 'degraded' | 'unavailable' | 'draining';

/**
 * Readiness (§12.8): 503 only when this node cannot acknowledge messages (database unreachable,
 * `unavailable`) or is shutting down (`draining`). Redis down is `degraded` with 200: the node
 * still stores and acknowledges messages and serves its own sockets, and a load balancer must not
 * drop every node at once because their shared Redis is gone.
 */
@Injectable()
export class HealthService {
  private redisCheck?: () => Promise<boolean>;
  private draining = false;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly metrics: MetricsService,
  ) {}

  registerRedisCheck(check: () => Promise<boolean>): void {
    this.redisCheck = check;
  }

  /** SIGTERM: from now on /ready answers 503 `draining` (the load balancer stops routing here). */
  startDraining(): void {
    this.draining = true;
    this.metrics.draining.set(1);
  }

  /** The HTTP status for a readiness result. */
  static httpStatus(status: ReadyStatus): 200 | 503 {
    return status === 'ok' || status === 'degraded' ? 200 : 503;
  }

  async readiness(): Promise<{
    status: ReadyStatus;
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
    const status: ReadyStatus = this.draining
      ? 'draining'
      : database !== 'up'
        ? 'unavailable'
        : redis === 'down'
          ? 'degraded'
          : 'ok';
    return { status, checks: { database, redis } };
  }
}
