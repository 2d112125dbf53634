import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { RealtimePublisher } from '../gateway/publisher/realtime.publisher.js';
import { delivery, type Delivery } from '../gateway/publisher/session.js';
import { AppError } from '../protocol/errors.js';
import type { SessionContext } from '../sessions/session-hooks.js';
import { ConnectStepRetry } from '../sessions/connect-step-retry.js';
import { SessionService } from '../sessions/session.service.js';
import { MessageReplayService, type ReplayItem } from './message-replay.service.js';

/**
 * §4 step 4 on both namespaces (order 20, after presence): the new socket gets every message of
 * its user's conversations above the delivered cursor as `message:new` with `replayed: true`, or
 * `conversation:sync-required` for a conversation more than 100 behind. The socket is already in
 * its user room, so anything sent meanwhile arrives live: nothing falls between the two. The
 * messages are returned as replayed items: what arrived live is not sent again, and a replayed
 * message's late live copy is dropped (§12.4, delivery-guard.ts). A replay the database could
 * not serve is followed by `conversation:sync-required` once it can (`resyncLater`).
 */
@Injectable()
export class MessageReplayHook implements OnModuleInit, OnApplicationShutdown {
  private readonly retries = new ConnectStepRetry();

  constructor(
    private readonly sessions: SessionService,
    private readonly replays: MessageReplayService,
    private readonly publisher: RealtimePublisher,
    @InjectPinoLogger('replay') private readonly logger: PinoLogger,
  ) {}

  onModuleInit(): void {
    this.sessions.registerHook({
      name: 'message-replay',
      order: 20,
      namespaces: ['/', '/communication'],
      onConnect: (ctx) => this.replay(ctx),
    });
  }

  async replay(ctx: SessionContext): Promise<Delivery[]> {
    const { user } = ctx;
    let items: ReplayItem[];
    try {
      items = await this.replays.replayFor(user);
    } catch (err) {
      if (err instanceof AppError && err.type === 'SERVICE_UNAVAILABLE') this.resyncLater(ctx);
      throw err;
    }
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
   * while offline, and nothing would tell it. Once the database answers (ConnectStepRetry: 1 s,
   * doubling up to 15 s apart, for at most 5 minutes while connected), it gets
   * `conversation:sync-required` for every conversation it is behind in, and pages with
   * `conversation:join` `afterSeq` as for a gap over 100 (the SDK does it by itself): nothing
   * arrives twice, as the client pages from its own cursor. A session still behind after that
   * catches up at its next connect.
   */
  private resyncLater(ctx: SessionContext): void {
    this.retries.schedule(
      ctx,
      async (afterMs) => {
        const lagging = await this.replays.lagging(ctx.user);
        let sent = 0;
        for (const l of lagging)
          if (
            this.publisher.toSession(ctx, 'conversation:sync-required', {
              conversationId: l.conversationId,
              deliveredSeq: l.deliveredSeq,
              lastSeq: l.lastSeq,
            })
          )
            sent++;
        this.logger.info(
          { userId: ctx.user.userId, conversations: sent, afterMs },
          'replay resynced after a database failure',
        );
      },
      (afterMs) =>
        this.logger.warn(
          { userId: ctx.user.userId, afterMs },
          'replay resync given up: the session catches up at its next connect',
        ),
    );
  }

  onApplicationShutdown(): void {
    this.retries.close();
  }
}
