import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ThrottledLog } from './throttled-log.js';

/** What failed: the database, Redis, or (for session hooks) whatever the hook depends on. */
export type Dependency = 'database' | 'redis' | 'hook';

/** Class, SQLSTATE or system error code of a failure, also when a driver wrapped it: never its message. */
export function errorFields(err: unknown): { errorName?: string; errorCode?: string } {
  const out: { errorName?: string; errorCode?: string } = {};
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === 'object'; i++) {
    out.errorName ??= (e as Error).name;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z_]{3,32}$/.test(code)) {
      out.errorCode = code;
      break;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/**
 * The node's one log for failing dependencies (§12.8): at most one line per kind
 * (`<dependency>:<operation>`) per 5 s, with the count of what was suppressed. The database and
 * Redis failure paths report here instead of logging each failure; an outage writes a handful of
 * lines, not one per request.
 */
@Injectable()
export class DependencyLog implements OnApplicationShutdown {
  private readonly throttle = new ThrottledLog(5000);

  constructor(@InjectPinoLogger('dependency') private readonly logger: PinoLogger) {}

  failed(
    dependency: Dependency,
    operation: string,
    err: unknown,
    extra: Record<string, unknown> = {},
  ): void {
    const sink =
      dependency !== 'redis'
        ? (f: Record<string, unknown>, m: string) => this.logger.error(f, m)
        : (f: Record<string, unknown>, m: string) => this.logger.warn(f, m);
    this.throttle.report(
      `${dependency}:${operation}`,
      sink,
      { dependency, operation, ...errorFields(err), ...extra },
      `${dependency} ${operation} failed`,
    );
  }

  onApplicationShutdown(): void {
    this.throttle.close();
  }
}
