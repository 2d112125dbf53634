import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { DependencyLog } from '../observability/dependency-log.js';
import { AlertDelivery } from './alert-delivery.service.js';
import { AlertRecipientsRepository, type Sent } from './alert-recipients.repository.js';
import { AlertReplayHook } from './alert-replay.hook.js';
import { toAlert } from './alert-row.js';
import { AlertsRepository } from './alerts.repository.js';

/**
 * Re-sends active emergency alerts to connected recipients who have not acknowledged them, every
 * ALERT_RESEND_INTERVAL_MS (§9). Each node looks at the users with a `/` socket on this node and
 * claims their due re-sends in one UPDATE … RETURNING (which moves last_sent_at), then emits to
 * their user rooms through the adapter, so a user connected to several nodes gets one re-send per
 * interval, not one per node. The tick runs a quarter interval apart (25 ms … 1 s).
 */
@Injectable()
export class AlertRedeliveryService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(
    private readonly delivery: AlertDelivery,
    private readonly replay: AlertReplayHook,
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly publisher: RealtimePublisher,
    @InjectPinoLogger('alerts') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
  ) {}

  get tickMs(): number {
    return Math.min(1000, Math.max(25, Math.floor(this.delivery.resendIntervalMs / 4)));
  }

  onApplicationBootstrap(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  /** One pass; returns the re-sends this node claimed. */
  async tick(): Promise<Sent[]> {
    if (this.running) return [];
    this.running = true;
    try {
      const local = this.localUsersByOrganization();
      if (local.size === 0) return [];
      const claimed: Sent[] = [];
      for (const organizationId of await this.alerts.organizationsWithActiveEmergency()) {
        const userIds = local.get(organizationId);
        if (!userIds) continue;
        claimed.push(
          ...(await this.recipients.claimDue(
            organizationId,
            [...userIds],
            this.delivery.resendIntervalMs,
          )),
        );
      }
      if (claimed.length === 0) return [];
      const byAlert = new Map<string, Sent[]>();
      for (const s of claimed) byAlert.set(s.alertId, [...(byAlert.get(s.alertId) ?? []), s]);
      for (const row of await this.alerts.findMany([...byAlert.keys()])) {
        const alert = toAlert(row);
        const sent = byAlert.get(row.id) ?? [];
        this.delivery.redeliver(
          alert,
          sent.map((s) => s.userId),
        );
        this.delivery.delivered(alert, sent, 'redelivered');
      }
      this.logger.debug(
        { resent: claimed.length, alerts: byAlert.size },
        'emergency alerts re-sent',
      );
      return claimed;
    } catch (err) {
      this.dependencyLog.failed('database', 'alert-redelivery', err);
      return [];
    } finally {
      this.running = false;
    }
  }

  /** Users with a live `/` session on this node whose connect replay is done, by organization. */
  private localUsersByOrganization(): Map<string, Set<string>> {
    return this.publisher.localUsers('/', (sessionId) => this.replay.replayDone(sessionId));
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
