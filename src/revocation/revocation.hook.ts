import { Injectable } from '@nestjs/common';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHookHandlers,
} from '../gateway/publisher/session-hooks.js';
import { NAMESPACES } from '../protocol/constants.js';
import { RevocationService } from './revocation.service.js';

/**
 * Order 0, first after the rooms are joined: a session whose token was revoked while its
 * handshake ran is dropped before any replay reaches it (§12.2).
 */
@Injectable()
@ConnectionHook({ name: 'revocation', order: 0, namespaces: NAMESPACES })
export class RevocationHook implements SessionHookHandlers {
  constructor(private readonly revocations: RevocationService) {}

  onConnect(session: SessionContext): Promise<void> {
    this.revocations.dropIfRevoked(session);
    return Promise.resolve();
  }
}
