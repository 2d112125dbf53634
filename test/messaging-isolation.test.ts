import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../src/persistence/db-rows.js';
import { closeAll, ok, rawRequest, request, settle } from './support/client.js';
import { conversation, GENEROUS_LIMITS, uid, user, type Client } from './support/messaging.js';
import { useServer } from './support/server.js';

/**
 * Invariant 1 and 6: sockets of a second organization — with the very same user ids, on both
 * namespaces, an admin among them — listen to every event for the whole suite while the first
 * organization does everything; they receive nothing of it. Message content appears in no log
 * line, audit row or error object.
 */
describe('organization isolation and PHI', () => {
  const srv = useServer({ env: { RATE_LIMITS: GENEROUS_LIMITS } });
  const orgA = uid('orgA');
  const orgB = uid('orgB');
  const alice = uid('alice');
  const bob = uid('bob');
  const marker = `PHI-MARKER-${randomUUID()}`;
  const editMarker = `PHI-EDIT-${randomUUID()}`;
  const listeners: Array<{ c: Client; events: Array<{ event: string; payload: unknown }> }> = [];
  const open: Client[] = [];
  const aUser = async (id: string, o: Parameters<typeof user>[3] = {}) => {
    const c = await user(srv.url, id, orgA, o);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    for (const [id, role, namespace] of [
      [alice, 'staff', '/'],
      [alice, 'staff', '/communication'],
      [bob, 'nurse', '/'],
      [bob, 'nurse', '/communication'],
      [uid('admin'), 'admin', '/'],
    ] as const) {
      const c = await user(srv.url, id, orgB, { role, namespace });
      const events: Array<{ event: string; payload: unknown }> = [];
      c.socket.onAny((event: string, payload: unknown) => events.push({ event, payload }));
      listeners.push({ c, events });
    }
  });
  afterAll(async () => {
    closeAll(...open.map((c) => c.socket), ...listeners.map((l) => l.c.socket));
  });

  it('organization A does everything', async () => {
    const a = await aUser(alice);
    const b = await aUser(bob, { namespace: '/communication' });
    const admin = await aUser(uid('admin'), { role: 'admin' });
    const conv = await conversation(a, [bob], 'isolation');
    await ok(a.socket, 'conversation:join', { conversationId: conv.id });
    await ok(b.socket, 'conversation:join', { conversationId: conv.id });
    const { message: m1 } = await ok(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conv.id,
      content: `note ${marker}`,
      metadata: { tag: marker },
    });
    const { message: m2 } = await ok(b.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conv.id,
      content: marker,
    });
    await ok(a.socket, 'message:typing', { conversationId: conv.id, isTyping: true });
    await ok(b.socket, 'message:delivered', { conversationId: conv.id, messageId: m1.id });
    await ok(a.socket, 'message:read', { conversationId: conv.id, messageId: m2.id });
    await ok(a.socket, 'message:edit', { messageId: m1.id, content: `edited ${editMarker}` });
    await ok(admin.socket, 'message:delete', { messageId: m2.id });
    await ok(a.socket, 'conversation:history', { conversationId: conv.id });
    // Refusals that carry the marker must not echo it.
    const tooLong = await rawRequest(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conv.id,
      content: marker.repeat(400),
    });
    const extra = await rawRequest(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conv.id,
      content: 'x',
      note: marker,
    });
    const stranger = await aUser(uid('stranger'));
    const denied = await request(stranger.socket, 'message:edit', {
      messageId: m1.id,
      content: marker,
    });
    for (const r of [tooLong, extra, denied]) {
      expect(r.ok).toBe(false);
      expect(JSON.stringify(r)).not.toContain(marker);
    }
    // A reconnecting participant gets its replay.
    await ok(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: conv.id,
      content: `again ${marker}`,
    });
    const b2 = await aUser(bob);
    await b2.recorder.until((r) => r.of('message:new').length >= 1);
    // Activity arrived on A's side, so nothing is still in flight to B either.
    await b.recorder.until((r) => r.of('message:deleted').length === 1);
  });

  it('sockets of organization B (same user ids, both namespaces) received nothing of it', async () => {
    for (const l of listeners) await settle(l.c.socket);
    for (const l of listeners) {
      const text = JSON.stringify(l.events);
      expect(text).not.toContain(orgA);
      expect(text).not.toContain(marker);
      expect(
        l.events
          .map((e) => e.event)
          .filter((e) => e.startsWith('message:') || e.startsWith('conversation:')),
      ).toEqual([]);
    }
  });

  it('the content markers appear in no log line and no audit row; edits and deletes are audited', async () => {
    expect(srv.logs.length).toBeGreaterThan(10);
    for (const line of srv.logs) {
      expect(line).not.toContain(marker);
      expect(line).not.toContain(editMarker);
    }
    const audit = await queryRows<Record<string, unknown>>(
      srv.database.db,
      sql`SELECT * FROM audit_log`,
    );
    const text = JSON.stringify(audit);
    expect(text).not.toContain(marker);
    expect(text).not.toContain(editMarker);
    const actions = audit.map((r) => `${String(r.action)}:${String(r.outcome)}`);
    expect(actions).toContain('message.edit:success');
    expect(actions).toContain('message.delete:success');
    expect(actions).toContain('message.edit:denied');
  });
});
