import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { delivery, type Delivery } from '../gateway/publisher/session.js';
import {
  ConnectionHook,
  type SessionContext,
  type SessionHookHandlers,
} from '../gateway/publisher/session-hooks.js';
import { MessageReplayService } from './message-replay.service.js';

/**
 * §4 step 4 on both namespaces (order 20, after presence): the new socket gets every message of
 * its user's conversations above the delivered cursor as `message:new` with `replayed: true`, or
 * `conversation:sync-required` for a conversation more than 100 behind. The socket is already in
 * its user room, so anything sent meanwhile arrives live: nothing falls between the two. The
 * messages are returned as replayed items: what arrived live is not sent again, and a replayed
 * message's late live copy is dropped (§12.4, delivery-guard.ts). A replay the database could
 * not serve is followed by `conversation:sync-required` once it can (`resync`).
 */
@Injectable()
@ConnectionHook({ name: 'message-replay', order: 20, namespaces: ['/', '/communication'] })
export class MessageReplayHook implements SessionHookHandlers {
  constructor(
    private readonly replays: MessageReplayService,
    @InjectPinoLogger('replay') private readonly logger: PinoLogger,
  ) {}

  async onConnect({ user }: SessionContext): Promise<Delivery[]> {
    const items = await this.replays.replayFor(user);
    if (items.length === 0) return [];
    let messages = 0;
    const out = items.map((item) => {
      if (item.kind === 'message') {
        const message = item.message;
        messages++;
        return delivery(
          'message:new',
          { message, replayed: true },
          { kind: 'message', id: message.id, createdAt: message.createdAt },
        );
      }
      return delivery('conversation:sync-required', {
        conversationId: item.conversationId,
        deliveredSeq: item.deliveredSeq,
        lastSeq: item.lastSeq,
      });
    });
    this.logger.debug(
      { userId: user.userId, messages, syncRequired: items.length - messages },
      'replayed',
    );
    return out;
  }

  /**
   * The replay could not be read (database unavailable): the session would miss what it was sent
   * while offline, and nothing would tell it. Once the database answers (the lifecycle retries,
   * this method), it gets `conversation:sync-required` for every conversation it is behind
   * in, and pages with `conversation:join` `afterSeq` as for a gap over 100 (the SDK does it by
   * itself): nothing arrives twice, as the client pages from its own cursor.
   */
  async onConnectRetry({ user }: SessionContext): Promise<Delivery[]> {
    const lagging = await this.replays.lagging(user);
    return lagging.map((l) =>
      delivery('conversation:sync-required', {
        conversationId: l.conversationId,
        deliveredSeq: l.deliveredSeq,
        lastSeq: l.lastSeq,
      }),
    );
  }
}
