import { Injectable } from '@nestjs/common';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHookHandlers,
} from '../gateway/publisher/session-hooks.js';
import { PresenceService } from './presence.service.js';

/** §4 step 3 on `/` (order 10): online with the first session, offline when the last is gone. */
@Injectable()
@ConnectionHook({ name: 'presence', order: 10, namespaces: ['/'] })
export class PresenceHook implements SessionHookHandlers {
  constructor(private readonly presence: PresenceService) {}

  onConnect(session: SessionContext): Promise<void> {
    return this.presence.connected(session);
  }

  onDisconnect(session: SessionContext): Promise<void> {
    return this.presence.disconnected(session);
  }
}
