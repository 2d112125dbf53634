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
 * Statements in flight at once (PostgreSQL; PGlite has one connection). Two keep a slow commit
 * from holding every other conversation, while batches stay large: each statement costs the
 * database about as much as a dozen more rows in it, so fewer, larger statements are cheaper.
 */
export const WRITE_CONCURRENCY = 2;

/**
 * Group commit for `message:send`. Sends wait one turn of the event loop (setImmediate, no
 * timer), so packets already received from other sockets join them, and go to the database
 * together: a burst costs one statement (one commit) instead of one per message. On PGlite, whose
 * work runs on the event loop, that is several-fold cheaper per message; on PostgreSQL it spares
 * most of the per-statement cost (round trip, executor start-up, commit).
 *
 * Statements run side by side up to the database's concurrency (1 on PGlite), each over
 * conversations no other running statement holds: a conversation's messages are written in the
 * order they arrived, one statement at a time, while a slow commit never holds other
 * conversations. A statement takes every waiting message of the conversations it takes (up to
 * MAX_BATCH), so under load the batches grow instead of the number of statements.
 *
 * If a statement fails on a repeated id (or a deadlock), its messages are written one by one, so
 * each gets its own answer; a single message whose id exists resolves `{duplicate: true}`.
 */
@Injectable()
export class MessageWriter {
  private queue: Pending[] = [];
  /** Conversations that a running statement writes. */
  private readonly busy = new Set<string>();
  private running = 0;
  private scheduled = false;
  private readonly concurrency: number;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    private readonly messages: MessagesRepository,
  ) {
    this.concurrency = Math.min(WRITE_CONCURRENCY, database.concurrency);
  }

  /** Resolves after the message is committed (or known to be a duplicate). */
  write(input: NewMessage): Promise<WriteOutcome> {
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.concurrency) return;
    this.scheduled = true;
    // One turn of the event loop first: packets already received from other sockets reach the
    // queue, so they share the next statement instead of waiting for another one.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const group = this.take();
      if (group.length === 0) return;
      this.running++;
      const held = new Set(group.map((p) => p.input.conversationId));
      for (const c of held) this.busy.add(c);
      void this.writeGroup(group).finally(() => {
        this.running--;
        for (const c of held) this.busy.delete(c);
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  /**
   * The next statement's messages, in arrival order: those of conversations no running statement
   * holds. Once a conversation's message stays behind (held, or the batch is full), all its later
   * messages stay too, so each conversation is written in order.
   */
  private take(): Pending[] {
    const group: Pending[] = [];
    const rest: Pending[] = [];
    const skipped = new Set<string>();
    for (const p of this.queue) {
      const c = p.input.conversationId;
      if (group.length < MAX_BATCH && !this.busy.has(c) && !skipped.has(c)) group.push(p);
      else {
        skipped.add(c);
        rest.push(p);
      }
    }
    this.queue = rest;
    return group;
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
