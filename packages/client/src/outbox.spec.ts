import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxEntry, type OutboxStorage } from './outbox.js';

class MapStorage implements OutboxStorage {
  readonly data = new Map<string, string>();
  getItem(k: string): string | null {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.data.set(k, v);
  }
  removeItem(k: string): void {
    this.data.delete(k);
  }
}

const entry = (messageId: string, queuedAt = Date.now()): OutboxEntry => ({
  messageId,
  conversationId: 'c1',
  content: `text ${messageId}`,
  queuedAt,
  attempts: 1,
  nextAttemptAt: queuedAt,
});

describe('Outbox', () => {
  it('keeps unsent entries per user across instances (a reload) and forgets acknowledged ones', () => {
    const storage = new MapStorage();
    const tab1 = new Outbox(storage);
    tab1.put(entry('m0')); // before the session is confirmed: memory, stored once bound
    expect(tab1.restore('org', 'u1')).toEqual([]);
    tab1.put(entry('m1'));
    tab1.put(entry('m2'));
    tab1.remove('m1'); // acknowledged
    const stored = JSON.parse(storage.getItem('wcr-outbox:org:u1')!) as OutboxEntry[];
    expect(stored.map((e) => e.messageId)).toEqual(['m0', 'm2']);

    const tab2 = new Outbox(storage);
    expect(tab2.restore('org', 'u2')).toEqual([]); // another user sees nothing
    const tab3 = new Outbox(storage);
    expect(tab3.restore('org', 'u1').map((e) => e.messageId)).toEqual(['m0', 'm2']);
    tab3.put(entry('m0'));
    tab3.remove('m0');
    tab3.put(entry('m2'));
    tab3.remove('m2');
    expect(storage.getItem('wcr-outbox:org:u1')).toBeNull();
  });

  it('does not resend entries older than a day, ignores garbage, and works without storage', () => {
    const storage = new MapStorage();
    storage.setItem(
      'wcr-outbox:org:u1',
      JSON.stringify([entry('old', Date.now() - 25 * 3600_000), entry('new'), { junk: true }]),
    );
    expect(new Outbox(storage).restore('org', 'u1').map((e) => e.messageId)).toEqual(['new']);
    storage.setItem('wcr-outbox:org:u2', '{not json');
    expect(new Outbox(storage).restore('org', 'u2')).toEqual([]);
    const memoryOnly = new Outbox(false);
    memoryOnly.put(entry('m'));
    expect(memoryOnly.restore('org', 'u1')).toEqual([]);
    expect(memoryOnly.entries().map((e) => e.messageId)).toEqual(['m']);
  });
});
