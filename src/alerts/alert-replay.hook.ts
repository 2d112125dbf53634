import { Injectable } from '@nestjs/common';
import { delivery, type Delivery } from '../gateway/publisher/session.js';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHookHandlers,
} from '../gateway/publisher/session-hooks.js';
import { AlertDelivery } from './alert-delivery.service.js';
import { AlertRecipientsRepository } from './alert-recipients.repository.js';
import { toAlert } from './alert-row.js';
import { AlertsRepository } from './alerts.repository.js';

/**
 * §4 step 4 on `/` (order 40): each active emergency alert of the organization that the user has
 * not acknowledged, as `alert:emergency` with `replayed: true` — not again when its live copy
 * reached the session during the connect sequence, and its live copy still on the way is dropped
 * instead (§12.4). Re-delivery leaves a session out until its replay is done.
 */
@Injectable()
@ConnectionHook({ name: 'alert-replay', order: 40, namespaces: ['/'] })
export class AlertReplayHook implements SessionHookHandlers {
  /** Ids of this node's `/` sessions whose replay ran (removed when they disconnect). */
  private readonly replayed = new Set<string>();

  constructor(
    private readonly alerts: AlertsRepository,
    private readonly recipients: AlertRecipientsRepository,
    private readonly delivery: AlertDelivery,
  ) {}

  onDisconnect(session: SessionContext): Promise<void> {
    this.replayed.delete(session.id);
    return Promise.resolve();
  }

  async onConnect(session: SessionContext): Promise<Delivery[]> {
    const { user } = session;
    try {
      const rows = await this.alerts.activeEmergenciesUnacknowledgedBy(
        user.organizationId,
        user.userId,
      );
      if (rows.length === 0 || !session.connected) return [];
      const sent = await this.recipients.markReplayed(
        rows.map((r) => ({ alertId: r.id, userId: user.userId })),
      );
      return rows.map((row) => {
        const alert = toAlert(row);
        this.delivery.delivered(
          alert,
          sent.filter((s) => s.alertId === row.id),
          'replayed',
        );
        return delivery(
          'alert:emergency',
          { alert, replayed: true },
          { kind: 'alert', id: alert.id },
        );
      });
    } finally {
      // Gone already: its disconnect hook may have run, nothing to remember.
      if (session.connected) this.replayed.add(session.id);
    }
  }

  /**
   * Whether the session's connect replay is done. Re-delivery leaves sessions out until then, so
   * a reconnecting user gets the replayed copy first, not a re-send racing it.
   */
  replayDone(sessionId: string): boolean {
    return this.replayed.has(sessionId);
  }
}
