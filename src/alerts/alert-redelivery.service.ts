import { DependencyLog } from '../observability/dependency-log.js';
import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RealtimePublisher } from '../sessions/realtime.publisher.js';
import { AlertRecipientsRepository, type Sent } from './alert-recipients.repository.js';
import { AlertsRepository } from './alerts.repository.js';
import { AlertsService, toAlert } from './alerts.service.js';

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
    private readonly alertsService: AlertsService,
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly publisher: RealtimePublisher,
    @InjectPinoLogger('alerts') private readonly logger: PinoLogger,
    private readonly dependencyLog: DependencyLog,
  ) {}

  get tickMs(): number {
    return Math.min(1000, Math.max(25, Math.floor(this.alertsService.resendIntervalMs / 4)));
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
            this.alertsService.resendIntervalMs,
          )),
        );
      }
      if (claimed.length === 0) return [];
      const byAlert = new Map<string, Sent[]>();
      for (const s of claimed) byAlert.set(s.alertId, [...(byAlert.get(s.alertId) ?? []), s]);
      for (const row of await this.alerts.findMany([...byAlert.keys()])) {
        const alert = toAlert(row);
        const sent = byAlert.get(row.id) ?? [];
        this.alertsService.redeliver(
          alert,
          sent.map((s) => s.userId),
        );
        this.alertsService.delivered(alert, sent, 'redelivered');
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

  /** Users with a live `/` socket on this node whose connect replay is done, by organization. */
  private localUsersByOrganization(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    let server;
    try {
      server = this.publisher.io;
    } catch {
      return out;
    }
    for (const socket of server.of('/').sockets.values()) {
      const user = socket.data.user;
      if (!user || !socket.connected || !this.alertsService.replayDone(socket)) continue;
      let set = out.get(user.organizationId);
      if (!set) out.set(user.organizationId, (set = new Set<string>()));
      set.add(user.userId);
    }
    return out;
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
