import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HealthService } from './health.service.js';
import { MetricsService } from '../observability/metrics.service.js';

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthService,
    private readonly metrics: MetricsService,
  ) {}

  @Get('health')
  liveness(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res() res: Response): Promise<void> {
    const result = await this.health.readiness();
    // Draining: no keep-alive, so a balancer's polling does not hold the closing listener open.
    if (result.status === 'draining') res.setHeader('Connection', 'close');
    res.status(HealthService.httpStatus(result.status)).json(result);
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async render(): Promise<string> {
    await this.health.readiness().catch(() => undefined);
    return this.metrics.render();
  }
}
