import { Injectable } from '@nestjs/common';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHookHandlers,
} from '../gateway/publisher/session-hooks.js';
import { MembersService } from './members.service.js';

/** Order 1, both namespaces: every connecting user is a member of their organization (§11). */
@Injectable()
@ConnectionHook({ name: 'members', order: 1, namespaces: ['/', '/communication'] })
export class MembersHook implements SessionHookHandlers {
  constructor(private readonly members: MembersService) {}

  async onConnect({ user }: SessionContext): Promise<void> {
    await this.members.seen(user.organizationId, user.userId, user.role);
  }
}
