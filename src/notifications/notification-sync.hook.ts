import { Injectable } from '@nestjs/common';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHookHandlers,
} from '../gateway/publisher/session-hooks.js';
import type { Delivery } from '../gateway/publisher/session.js';
import { NotificationsService } from './notifications.service.js';

/** §4 step 4 on `/` (order 30, after the message replay): `notification:sync`, the newest 100 unread. */
@Injectable()
@ConnectionHook({ name: 'notification-sync', order: 30, namespaces: ['/'] })
export class NotificationSyncHook implements SessionHookHandlers {
  constructor(private readonly notifications: NotificationsService) {}

  onConnect({ user }: SessionContext): Promise<Delivery[]> {
    return this.notifications.unreadSync(user);
  }

  /** The database did not answer at the connect: the same sync once it does. */
  onConnectRetry({ user }: SessionContext): Promise<Delivery[]> {
    return this.notifications.unreadSync(user);
  }
}
