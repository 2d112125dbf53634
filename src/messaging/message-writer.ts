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
 * PGlite (one process, one connection) takes the whole queue in one statement. On PostgreSQL the
 * queue is split per conversation and the parts run in parallel on the pool: a statement then
 * locks a single conversation row, so writers on several nodes can never deadlock.
 *
 * If a statement fails on a repeated id (or a deadlock), its messages are written one by one, so
 * each gets its own answer; a single message whose id exists resolves `{duplicate: true}`.
 */
@Injectable()
export class MessageWriter {
  private queue: Pending[] = [];
  private busy = false;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly messages: MessagesRepository,
  ) {}

  /** Resolves after the message is committed (or known to be a duplicate). */
  write(input: NewMessage): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      if (!this.busy) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        // One turn of the event loop first: packets already received from other sockets reach
        // the queue, so they share this statement instead of waiting for the next one.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const wave = this.queue.splice(
          0,
          this.database.kind === 'pglite' ? MAX_BATCH : this.queue.length,
        );
        await Promise.all(this.split(wave).map((group) => this.writeGroup(group)));
      }
    } finally {
      this.busy = false;
    }
  }

  private split(wave: Pending[]): Pending[][] {
    if (this.database.kind === 'pglite') return [wave];
    const groups = new Map<string, Pending[]>();
    for (const p of wave) {
      const g = groups.get(p.input.conversationId);
      if (g) g.push(p);
      else groups.set(p.input.conversationId, [p]);
    }
    const out: Pending[][] = [];
    for (const g of groups.values())
      for (let i = 0; i < g.length; i += MAX_BATCH) out.push(g.slice(i, i + MAX_BATCH));
    return out;
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
