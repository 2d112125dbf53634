import { Inject, Injectable, Optional } from '@nestjs/common';
import { DATABASE, type DatabaseHandle } from '../persistence/database.js';
import { DatabaseErrors } from '../persistence/database-errors.js';
import { classifyDatabaseError, notStorable } from '../persistence/sqlstate.js';
import type { Message } from '../protocol/models.js';
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
 * If a statement fails on one row (a repeated id, a value the database refuses) or a deadlock, it
 * is split in halves until each message has its own answer: a single message whose id exists
 * resolves `{duplicate: true}`, one the database refuses fails alone (VALIDATION_ERROR), and every
 * other message of the batch is stored.
 *
 * It is the write side of the messages repository: it reads the database handle for its
 * concurrency only, and what it rejects with is an AppError (persistence/sqlstate.ts), never a
 * driver error.
 */
@Injectable()
export class MessageWriter {
  private queue: Pending[] = [];
  /** Conversations that a running statement writes. */
  private readonly busy = new Set<string>();
  private running = 0;
  private scheduled = false;
  private readonly concurrency: number;
  private readonly errors: DatabaseErrors;

  constructor(
    @Inject(DATABASE) database: DatabaseHandle,
    private readonly messages: MessagesRepository,
    @Optional() errors?: DatabaseErrors,
  ) {
    this.concurrency = Math.min(WRITE_CONCURRENCY, database.concurrency);
    this.errors = errors ?? new DatabaseErrors();
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
        else
          p.reject(
            this.errors.map(
              'message-write',
              new Error('message not stored (conversation missing)'),
            ),
          );
      }
    } catch (err) {
      const failure = classifyDatabaseError(err);
      if (group.length > 1 && failure !== 'unavailable') {
        // One row the database refuses (a repeated id, a value it cannot store) or a lost lock
        // race fails the whole statement: split it, so every other message is still written and
        // only the refused one fails (§12.3). Halves keep the cost at O(bad rows × log n)
        // statements; a conversation's messages stay in arrival order (first half first). A lost
        // connection (no SQLSTATE, class 08, 57P01) is not split: each row would only fail again.
        const half = Math.ceil(group.length / 2);
        await this.writeGroup(group.slice(0, half));
        await this.writeGroup(group.slice(half));
        return;
      }
      if (group.length === 1 && failure === 'duplicate') {
        group[0].resolve({ duplicate: true });
        return;
      }
      if (group.length === 1 && failure === 'refused-value') {
        group[0].reject(notStorable('The message could not be stored'));
        return;
      }
      const answer = this.errors.map('message-write', err);
      for (const p of group) p.reject(answer);
    }
  }
}
