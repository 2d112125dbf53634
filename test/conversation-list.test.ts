import { afterAll, describe, expect, it } from 'vitest';
import { connect as sdkConnect, type ConversationSummary } from '@white-cross/realtime-client';
import { ok, rawRequest, request } from './support/client.js';
import {
  conversation,
  GENEROUS_LIMITS,
  send,
  uid,
  user,
  type Client,
} from './support/messaging.js';
import { useServer } from './support/server.js';
import { hasPostgres } from './support/services.js';
import { signToken } from './support/tokens.js';

const ids = (list: ConversationSummary[]) => list.map((c) => c.conversation.id);

/** §12.6 `conversation:list`, on PGlite and on PostgreSQL (the SQL must run on both). */
describe.each([
  { db: 'pglite', skip: false },
  { db: 'postgres', skip: !hasPostgres() },
])('conversation:list ($db)', ({ db, skip }) => {
  const srv = useServer(
    { env: { RATE_LIMITS: GENEROUS_LIMITS } },
    { skip, postgres: db === 'postgres' ? 'list' : undefined },
  );
  const open: Client[] = [];
  const connectUser = async (
    userId: string,
    org: string,
    o: { namespace?: '/' | '/communication' } = {},
  ) => {
    const c = await user(srv.url, userId, org, o);
    open.push(c);
    return c;
  };

  afterAll(async () => {
    for (const c of open) c.socket.close();
  });

  it.skipIf(skip)(
    'most recent activity first, lastMessage (null when empty), unread counts and cursors per caller',
    async () => {
      const org = uid('org');
      const [aId, bId] = [uid('a'), uid('b')];
      const a = await connectUser(aId, org);
      const b = await connectUser(bId, org);
      const c1 = await conversation(a, [bId], 'first');
      const c2 = await conversation(a, [bId], 'second');
      const c3 = await conversation(b, [aId], 'third, empty');
      const fromB = [];
      for (let i = 0; i < 3; i++) fromB.push(await send(b, c1.id, `b ${i}`));
      const own = await send(a, c2.id, 'from a');

      const listA = await ok(a.socket, 'conversation:list', {});
      // c2 (last message newest), c1 (B's messages), c3 (created before any message, empty).
      expect(ids(listA.conversations)).toEqual([c2.id, c1.id, c3.id]);
      expect(listA.nextCursor).toBeNull();
      const [s2, s1, s3] = listA.conversations;
      expect(s2).toEqual({
        conversation: { ...c2, lastSeq: 1 },
        lastMessage: own,
        unreadCount: 0, // one's own message is never unread
        deliveredSeq: 1,
        readSeq: 1,
      });
      expect(s1.lastMessage).toEqual(fromB[2]);
      expect(s1).toMatchObject({ unreadCount: 3, deliveredSeq: 0, readSeq: 0 });
      expect(s1.conversation.lastSeq).toBe(3);
      expect(s3.lastMessage).toBeNull();
      expect(s3).toMatchObject({ unreadCount: 0, deliveredSeq: 0, readSeq: 0 });
      expect(s3.conversation).toEqual(c3);

      // Reading moves the count; B's view is its own.
      await ok(a.socket, 'message:read', { conversationId: c1.id, messageId: fromB[1].id });
      const again = await ok(a.socket, 'conversation:list', {});
      expect(again.conversations[1]).toMatchObject({ unreadCount: 1, readSeq: 2, deliveredSeq: 2 });
      const listB = await ok(b.socket, 'conversation:list', {});
      expect(ids(listB.conversations)).toEqual([c2.id, c1.id, c3.id]);
      expect(listB.conversations.map((c) => c.unreadCount)).toEqual([1, 0, 0]);

      // Without a payload, and on /communication.
      const bare = await rawRequest(a.socket, 'conversation:list');
      expect(bare).toMatchObject({ ok: true });
      const comm = await connectUser(aId, org, { namespace: '/communication' });
      const onComm = await ok(comm.socket, 'conversation:list', { limit: 2 });
      expect(ids(onComm.conversations)).toEqual([c2.id, c1.id]);
      expect(typeof onComm.nextCursor).toBe('string');
    },
  );

  it.skipIf(skip)(
    'pages with opaque cursors: no repeats or skips while new messages move conversations to the front',
    async () => {
      const org = uid('org');
      const [aId, bId] = [uid('a'), uid('b')];
      const a = await connectUser(aId, org);
      const b = await connectUser(bId, org);
      const created = [];
      for (let i = 0; i < 7; i++) created.push(await conversation(a, [bId], `c${i}`));
      const order = created.map((c) => c.id).reverse(); // newest first

      const p1 = await ok(a.socket, 'conversation:list', { limit: 3 });
      expect(ids(p1.conversations)).toEqual(order.slice(0, 3));
      expect(p1.nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);

      // Activity meanwhile: one conversation of a later page and one of the first page.
      await send(b, order[5]);
      await send(b, order[1]);

      const p2 = await ok(a.socket, 'conversation:list', { limit: 3, before: p1.nextCursor! });
      // order[5] moved ahead of the cursor (it is new activity, heard live): not on later pages.
      expect(ids(p2.conversations)).toEqual([order[3], order[4], order[6]]);
      expect(p2.nextCursor).toBeNull();

      // A fresh walk sees the new order, every conversation exactly once.
      const walked: string[] = [];
      let before: string | undefined;
      for (let guard = 0; guard < 10; guard++) {
        const page = await ok(a.socket, 'conversation:list', {
          limit: 2,
          ...(before ? { before } : {}),
        });
        walked.push(...ids(page.conversations));
        if (page.nextCursor === null) break;
        before = page.nextCursor;
      }
      expect(walked).toEqual([
        order[1],
        order[5],
        order[0],
        order[2],
        order[3],
        order[4],
        order[6],
      ]);

      // The SDK: list() and the async iterator over pages.
      const token = await signToken({ userId: aId, organizationId: org, role: 'staff' });
      const rt = await sdkConnect({ url: srv.url, token, outboxStorage: false });
      try {
        const first = await rt.conversations.list({ limit: 4 });
        expect(ids(first.conversations)).toEqual(walked.slice(0, 4));
        const pages: string[][] = [];
        for await (const page of rt.conversations.pages({ limit: 3 }))
          pages.push(ids(page.conversations));
        expect(pages).toEqual([walked.slice(0, 3), walked.slice(3, 6), walked.slice(6)]);
      } finally {
        rt.close();
      }
    },
  );

  it.skipIf(skip)(
    'organization isolation: the same user id in another organization has its own list',
    async () => {
      const [org1, org2] = [uid('org'), uid('org')];
      const [aId, bId] = [uid('a'), uid('b')];
      const a1 = await connectUser(aId, org1);
      const a2 = await connectUser(aId, org2);
      const b2 = await connectUser(bId, org2);
      const mine = await conversation(a1, [bId], 'org1');
      const theirs = await conversation(b2, [aId], 'org2 with the same user id');
      await send(b2, theirs.id);
      expect(ids((await ok(a1.socket, 'conversation:list', {})).conversations)).toEqual([mine.id]);
      expect(ids((await ok(a2.socket, 'conversation:list', {})).conversations)).toEqual([
        theirs.id,
      ]);
      // A cursor of another organization's list leaks nothing: it only positions the caller's own.
      const other = await ok(b2.socket, 'conversation:list', { limit: 1 });
      const stranger = await connectUser(uid('x'), org1);
      const cross = await ok(stranger.socket, 'conversation:list', {
        before:
          other.nextCursor ?? Buffer.from(`9999999999999999:${theirs.id}`).toString('base64url'),
      });
      expect(cross.conversations).toEqual([]);
    },
  );

  it.skipIf(skip)('validation errors: limit range, malformed cursor, unknown fields', async () => {
    const a = await connectUser(uid('a'), uid('org'));
    const cases: Array<[unknown, string, string]> = [
      [{ limit: 0 }, 'limit', 'min'],
      [{ limit: 101 }, 'limit', 'max'],
      [{ limit: 2.5 }, 'limit', 'isInt'],
      [{ before: 'not a cursor!' }, 'before', 'matches'],
      [{ before: Buffer.from('garbage').toString('base64url') }, 'before', 'isListCursor'],
      [{ before: 42 }, 'before', 'isString'],
      [{ after: 'x' }, 'after', 'whitelistValidation'],
    ];
    for (const [payload, field, constraint] of cases) {
      const res = await rawRequest(a.socket, 'conversation:list', payload);
      expect(res, JSON.stringify(payload)).toMatchObject({
        ok: false,
        error: { type: 'VALIDATION_ERROR', event: 'conversation:list' },
      });
      const details = (
        res as { error: { details: Array<{ field: string; constraints: string[] }> } }
      ).error.details;
      expect(details.find((d) => d.field === field)?.constraints).toContain(constraint);
    }
    const notObject = await rawRequest(a.socket, 'conversation:list', 'hello');
    expect(notObject).toMatchObject({ ok: false, error: { type: 'VALIDATION_ERROR' } });
    // A valid call still works on the same socket.
    const fine = await request(a.socket, 'conversation:list', { limit: 1 });
    expect(fine).toEqual({ ok: true, data: { conversations: [], nextCursor: null } });
  });
});
