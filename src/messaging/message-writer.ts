import { Inject, Injectable } from '@nestjs/common';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import type { Message } from '../protocol/models.js';
import { DEADLOCK, SERIALIZATION_FAILURE, sqlState, UNIQUE_VIOLATION } from './db-rows.js';
import { MessagesRepository, type NewMessage } from './messages.repository.js';

/** What became of one submitted message: stored now, or its id was already taken. */
export type WriteOutcome = { stored: Message } | { duplicate: true };

interface Pending {
  input: NewMessage;
  resolve: (o: WriteOutcome) => void;
  reject: (e: unknown) => void;
}

interface Lane {
  queue: Pending[];
  busy: boolean;
}

/** Largest number of messages written by one statement. */
export const MAX_BATCH = 200;

/**
 * Group commit for `message:send`. A send is written at once when the writer is idle; sends that
 * arrive while a write is in flight wait and go together in the next statement, so a burst costs
 * one statement (one commit) instead of one per message — the cost per message drops several-fold
 * on PGlite, whose work runs on the event loop. Before each statement the writer lets one turn of
 * the event loop pass (setImmediate, no timer), so packets already received from other sockets
 * join the batch: without it a loaded server wrote each socket's burst separately (batches of
 * 1, 29, 1, 29 … in a 20-client burst; with it, 200, 200, 200).
 *
 * PGlite (one process, one connection) takes the whole queue in one statement. On PostgreSQL each
 * conversation has its own queue, drained independently and in parallel on the pool: a statement
 * then locks a single conversation row, so writers on several nodes can never deadlock, and one
 * conversation's slow commit never delays another's.
 *
 * If a statement fails on a repeated id (or a deadlock), its messages are written one by one, so
 * each gets its own answer; a single message whose id exists resolves `{duplicate: true}`.
 */
@Injectable()
export class MessageWriter {
  /**
   * One queue per lane. On PGlite there is one lane: a statement there costs event-loop time, so
   * every conversation shares it. On PostgreSQL each conversation has its own lane, so a slow
   * commit of one conversation never holds the others (the pool bounds how many run at once).
   */
  private readonly lanes = new Map<string, Lane>();

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly messages: MessagesRepository,
  ) {}

  /** Resolves after the message is committed (or known to be a duplicate). */
  write(input: NewMessage): Promise<WriteOutcome> {
    const key = this.database.kind === 'pglite' ? '*' : input.conversationId;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { queue: [], busy: false };
      this.lanes.set(key, lane);
    }
    const target = lane;
    return new Promise<WriteOutcome>((resolve, reject) => {
      target.queue.push({ input, resolve, reject });
      if (!target.busy) void this.drain(key, target);
    });
  }

  private async drain(key: string, lane: Lane): Promise<void> {
    lane.busy = true;
    try {
      while (lane.queue.length > 0) {
        // One turn of the event loop first: packets already received from other sockets reach
        // the queue, so they share this statement instead of waiting for the next one.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await this.writeGroup(lane.queue.splice(0, MAX_BATCH));
      }
    } finally {
      lane.busy = false;
      if (lane.queue.length === 0 && this.lanes.get(key) === lane) this.lanes.delete(key);
    }
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    try {
      const stored = await this.messages.insertBatch(group.map((p) => p.input));
      const byId = new Map(stored.map((m) => [m.id, m]));
      for (const p of group) {
        const m = byId.get(p.input.id);
        if (m) p.resolve({ stored: m });
        else p.reject(new Error('message not stored (conversation missing)'));
      }
    } catch (err) {
      const state = sqlState(err);
      const retryable =
        state === UNIQUE_VIOLATION || state === DEADLOCK || state === SERIALIZATION_FAILURE;
      if (group.length > 1 && retryable) {
        for (const p of group) await this.writeGroup([p]);
        return;
      }
      if (group.length === 1 && state === UNIQUE_VIOLATION) {
        group[0].resolve({ duplicate: true });
        return;
      }
      for (const p of group) p.reject(err);
    }
  }
}
