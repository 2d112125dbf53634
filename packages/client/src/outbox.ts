/** A message waiting for its ack, as the outbox keeps it (and as `client:outbox` reports it). */
export interface OutboxEntry {
  messageId: string;
  conversationId: string;
  content: string;
  metadata?: Record<string, unknown>;
  /** When the app called `sendMessage` (ms since the epoch). */
  queuedAt: number;
  attempts: number;
  /** When the next attempt goes (ms since the epoch): after a RATE_LIMIT_EXCEEDED, the server's `retryAfterMs`. */
  nextAttemptAt: number;
  /** The error type of the last failed attempt. */
  lastError?: string;
}

/** The part of the Web Storage API the outbox uses (`localStorage` fits). */
export interface OutboxStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const PREFIX = 'wcr-outbox:';
/** Entries older than this are not resent after a reload (the conversation has moved on). */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;

function defaultStorage(): OutboxStorage | undefined {
  try {
    const ls = (globalThis as { localStorage?: OutboxStorage }).localStorage;
    if (!ls) return undefined;
    ls.getItem(PREFIX); // throws where storage is blocked (privacy modes, sandboxed frames)
    return ls;
  } catch {
    return undefined;
  }
}

/**
 * Unsent messages of one client. In memory always; also in storage (per organization and user,
 * known once the server confirmed the session) so a reload or a closed tab does not lose them:
 * the next client of that user resends them with the same `messageId` (stored at most once).
 * Message text sits in the browser's storage until acknowledged — the same device that typed it.
 */
export class Outbox {
  private readonly pending = new Map<string, OutboxEntry>();
  private readonly storage: OutboxStorage | undefined;
  private key?: string;

  constructor(storage?: OutboxStorage | false) {
    this.storage = storage === false ? undefined : (storage ?? defaultStorage());
  }

  entries(): OutboxEntry[] {
    return [...this.pending.values()].map((e) => ({ ...e }));
  }

  put(entry: OutboxEntry): void {
    this.pending.set(entry.messageId, entry);
    this.save();
  }

  remove(messageId: string): void {
    this.pending.delete(messageId);
    this.save(messageId);
  }

  /** Binds to the confirmed user and returns what a previous client of that user left unsent. */
  restore(organizationId: string, userId: string): OutboxEntry[] {
    this.key = `${PREFIX}${organizationId}:${userId}`;
    const restored: OutboxEntry[] = [];
    for (const e of this.load())
      if (!this.pending.has(e.messageId) && Date.now() - e.queuedAt < MAX_AGE_MS) {
        restored.push({ ...e, nextAttemptAt: Date.now() });
      }
    this.save();
    return restored;
  }

  private load(): OutboxEntry[] {
    if (!this.storage || !this.key) return [];
    try {
      const raw = this.storage.getItem(this.key);
      const parsed: unknown = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed)
        ? parsed.filter(
            (e): e is OutboxEntry =>
              typeof e === 'object' &&
              e !== null &&
              typeof (e as OutboxEntry).messageId === 'string' &&
              typeof (e as OutboxEntry).conversationId === 'string' &&
              typeof (e as OutboxEntry).content === 'string' &&
              typeof (e as OutboxEntry).queuedAt === 'number',
          )
        : [];
    } catch {
      return [];
    }
  }

  private save(removed?: string): void {
    if (!this.storage || !this.key) return;
    try {
      // Keep entries another client of the same user stored (another tab) next to ours.
      const others = this.load().filter(
        (e) => !this.pending.has(e.messageId) && e.messageId !== removed,
      );
      const all = [...others, ...this.pending.values()];
      if (all.length === 0) this.storage.removeItem(this.key);
      else this.storage.setItem(this.key, JSON.stringify(all));
    } catch {
      // Storage full or blocked: the outbox still works in memory.
    }
  }
}
