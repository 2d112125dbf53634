import type { INestApplication } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { MetricsService } from './metrics.service.js';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * `http_requests_total{method,route,status}` and `http_request_duration_seconds{method,route}`
 * for every HTTP response. `route` is the matched route template (`/api/v1/alerts/:id`), never the
 * raw path, so ids do not create series; a request no route matched is `(unmatched)` (404s,
 * bodies refused before routing, the demo's static files). Socket.IO's own HTTP requests are
 * answered by engine.io before Express and are not counted here (see realtime_* metrics).
 */
export function installHttpMetrics(app: INestApplication): void {
  const metrics = app.get(MetricsService);
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      const matched = (req.route as { path?: unknown } | undefined)?.path;
      // Nest answers unknown paths from a catch-all route (`{/*splat}`): unmatched too.
      const route =
        typeof matched === 'string' && !matched.includes('*')
          ? `${req.baseUrl}${matched}`
          : '(unmatched)';
      metrics.httpRequests.inc({ method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe(
        { method, route },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });
    next();
  });
}
