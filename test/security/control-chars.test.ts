/**
 * Finding 8 (high): U+0000 poisoned other users' sends. Ten accounts sending `content:"a\u0000b"`
 * made most messages of 20 users of another organization fail with SERVICE_UNAVAILABLE: the
 * database refused the row and with it the whole batch. §12.3: C0 control characters (except tab,
 * LF, CR) are refused in all text with VALIDATION_ERROR `noControlCharacters`, and a row the
 * database refuses fails its own send only.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationsRepository } from '../../src/messaging/conversations.repository.js';
import { MessageWriter, type WriteOutcome } from '../../src/messaging/message-writer.js';
import { MessagesRepository, type NewMessage } from '../../src/messaging/messages.repository.js';
import { ParticipantsRepository } from '../../src/messaging/participants.repository.js';
import { openPostgres, type DatabaseHandle } from '../../src/persistence/database.js';
import { AppError } from '../../src/protocol/errors.js';
import { closeAll, rawRequest, request, type TestSocket } from '../support/client.js';
import { http } from '../support/http.js';
import { conversation, GENEROUS_LIMITS, user, type Client } from '../support/messaging.js';
import { freshPglite, useServer } from '../support/server.js';
import { createTestDatabase, hasPostgres } from '../support/services.js';
import { signToken } from '../support/tokens.js';

const BAD = ['a\u0000b', 'x\u0001', '\u001b[31mred', 'bell\u0007', 'vt\u000b', 'ff\u000c'];

function expectControlRefusal(res: { ok: boolean; error?: unknown }, field: string): void {
  expect(res.ok).toBe(false);
  const error = (res as { error: { type: string; details: unknown } }).error;
  expect(error.type).toBe('VALIDATION_ERROR');
  expect(error.details).toContainEqual({ field, constraints: ['noControlCharacters'] });
}

describe('control characters are refused in every text field (§12.3)', () => {
  const srv = useServer({ env: { RATE_LIMITS: GENEROUS_LIMITS } });
  let a: Client;
  let convId: string;
  const open: TestSocket[] = [];
  beforeAll(async () => {
    a = await user(srv.url, 'cc-a', 'cc-org');
    open.push(a.socket);
    convId = (await conversation(a, ['cc-b'])).id;
  });
  afterAll(async () => {
    closeAll(...open);
  });

  it('message:send content, metadata keys and values (nested too)', async () => {
    for (const bad of BAD) {
      const send = (extra: Record<string, unknown>) =>
        rawRequest(a.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId: convId,
          content: 'fine',
          ...extra,
        });
      expectControlRefusal(await send({ content: bad }), 'content');
      expectControlRefusal(await send({ metadata: { k: bad } }), 'metadata');
      expectControlRefusal(await send({ metadata: { [bad]: 1 } }), 'metadata');
      expectControlRefusal(await send({ metadata: { a: { b: [1, bad] } } }), 'metadata');
    }
    // Nothing was stored.
    const { ok, data } = (await request(a.socket, 'conversation:history', {
      conversationId: convId,
    })) as { ok: boolean; data: { messages: unknown[] } };
    expect(ok).toBe(true);
    expect(data.messages).toHaveLength(0);
  });

  it('tab, LF and CR stay allowed', async () => {
    const res = await request(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: convId,
      content: 'line 1\r\n\tline 2\n',
      metadata: { 'k\t': 'v\r\n' },
    });
    expect(res.ok).toBe(true);
  });

  it('message:edit content and conversation:create title', async () => {
    const sent = await request(a.socket, 'message:send', {
      messageId: randomUUID(),
      conversationId: convId,
      content: 'to edit',
    });
    if (!sent.ok) throw new Error('send failed');
    expectControlRefusal(
      await rawRequest(a.socket, 'message:edit', {
        messageId: sent.data.message.id,
        content: 'a\u0000b',
      }),
      'content',
    );
    expectControlRefusal(
      await rawRequest(a.socket, 'conversation:create', {
        participantIds: ['cc-b'],
        title: 'ward\u0000',
      }),
      'title',
    );
  });

  it('HTTP: notification title/body/data, alert title/message/location, publish data', async () => {
    const token = await signToken({ userId: 'cc-svc', organizationId: 'cc-org', role: 'service' });
    const dueAt = new Date(Date.now() + 3600_000).toISOString();
    const cases: Array<{ path: string; body: Record<string, unknown>; field: string }> = [];
    const notification = { organizationId: 'cc-org', userIds: ['cc-a'], type: 't', title: 'ok' };
    const alert = { organizationId: 'cc-org', title: 'ok', message: 'ok' };
    const targeted = { ...alert, studentId: 's1', userIds: ['cc-a'] };
    for (const bad of ['a\u0000b', 'x\u001f']) {
      cases.push(
        { path: '/api/v1/notifications', body: { ...notification, title: bad }, field: 'title' },
        { path: '/api/v1/notifications', body: { ...notification, body: bad }, field: 'body' },
        {
          path: '/api/v1/notifications',
          body: { ...notification, data: { k: bad } },
          field: 'data',
        },
        {
          path: '/api/v1/notifications',
          body: { ...notification, data: { [bad]: 1 } },
          field: 'data',
        },
        { path: '/api/v1/alerts/emergency', body: { ...alert, title: bad }, field: 'title' },
        { path: '/api/v1/alerts/emergency', body: { ...alert, message: bad }, field: 'message' },
        { path: '/api/v1/alerts/emergency', body: { ...alert, location: bad }, field: 'location' },
        {
          path: '/api/v1/alerts/medication-reminder',
          body: { ...targeted, dueAt, message: bad },
          field: 'message',
        },
        {
          path: '/api/v1/alerts/health',
          body: { ...targeted, severity: 'warning', title: bad },
          field: 'title',
        },
        {
          path: '/api/v1/channels/publish',
          body: { channel: 'org:cc-org', event: 'e', data: { nested: [bad] } },
          field: 'data',
        },
        {
          path: '/api/v1/channels/publish',
          body: { channel: 'org:cc-org', event: 'e', data: bad },
          field: 'data',
        },
      );
    }
    for (const c of cases) {
      const res = await http<{ type: string; details: unknown }>(srv.url, 'POST', c.path, {
        token,
        body: c.body,
      });
      expect(res.status, `${c.path} ${c.field}`).toBe(400);
      expect(res.body.type).toBe('VALIDATION_ERROR');
      expect(res.body.details).toContainEqual({
        field: c.field,
        constraints: ['noControlCharacters'],
      });
    }
  });
});

interface Driver {
  name: string;
  open: () => Promise<{ db: DatabaseHandle; drop: () => Promise<void> }>;
}
const drivers: Driver[] = [
  {
    name: 'PGlite',
    open: async () => {
      const db = await freshPglite();
      return { db, drop: () => db.close() };
    },
  },
  ...(hasPostgres()
    ? [
        {
          name: 'PostgreSQL',
          open: async () => {
            const t = await createTestDatabase('secwriter');
            const db = await openPostgres(t.url);
            return {
              db,
              drop: async () => {
                await db.close();
                await t.drop();
              },
            };
          },
        },
      ]
    : []),
];

describe.each(drivers)('a row the database refuses fails alone ($name)', ({ open }) => {
  let handle: { db: DatabaseHandle; drop: () => Promise<void> };
  let writer: MessageWriter;
  let messages: MessagesRepository;
  beforeAll(async () => {
    handle = await open();
    messages = new MessagesRepository(handle.db);
    writer = new MessageWriter(handle.db, messages);
  });
  afterAll(() => handle.drop());

  const newConversation = async (users: string[]) => {
    const id = randomUUID();
    const conversations = new ConversationsRepository(handle.db);
    const participants = new ParticipantsRepository(handle.db);
    await handle.db.db.transaction(async (tx) => {
      await conversations.insertIfAbsent(
        { id, organizationId: 'o1', title: null, createdBy: users[0] },
        tx,
      );
      await participants.insertMany(id, 'o1', users, tx);
    });
    return id;
  };

  it('one batch with refused rows (U+0000 in content and in metadata) stores every other row', async () => {
    const c1 = await newConversation(['w1', 'w2']);
    const c2 = await newConversation(['w3', 'w4']);
    const msg = (conversationId: string, senderId: string, content: string, metadata = {}) =>
      ({
        id: randomUUID(),
        conversationId,
        senderId,
        organizationId: 'o1',
        content,
        metadata,
      }) satisfies NewMessage;
    // Written from the same turn of the event loop: one batch (the validation is bypassed on
    // purpose, as if a value slipped past it).
    const inputs: NewMessage[] = [];
    for (let i = 0; i < 30; i++) {
      inputs.push(msg(i % 2 ? c1 : c2, i % 2 ? 'w1' : 'w3', `good ${i}`));
      if (i % 10 === 5) inputs.push(msg(c1, 'w2', 'a\u0000b'));
      if (i % 10 === 7) inputs.push(msg(c2, 'w4', 'fine', { k: 'x\u0000y' }));
    }
    const results = await Promise.allSettled(inputs.map((m) => writer.write(m)));
    results.forEach((r, i) => {
      const bad = inputs[i].content.includes('\u0000') || inputs[i].senderId === 'w4';
      if (bad) {
        expect(r.status).toBe('rejected');
        const reason = (r as PromiseRejectedResult).reason as AppError;
        expect(reason).toBeInstanceOf(AppError);
        expect(reason.type).toBe('VALIDATION_ERROR');
      } else {
        expect(r.status).toBe('fulfilled');
        expect('stored' in (r as PromiseFulfilledResult<WriteOutcome>).value).toBe(true);
      }
    });
    // Seqs stay gapless and in arrival order per conversation.
    for (const c of [c1, c2]) {
      const page = await messages.after(c, 0, 100);
      expect(page.messages.map((m) => m.seq)).toEqual(page.messages.map((_, i) => i + 1));
      expect(page.messages).toHaveLength(15);
      const ns = page.messages.map((m) => Number(m.content.split(' ')[1]));
      expect([...ns].sort((x, y) => x - y)).toEqual(ns);
    }
  });
});

describe.each([
  { name: 'PGlite', postgres: false },
  ...(hasPostgres() ? [{ name: 'PostgreSQL', postgres: true }] : []),
])('the attack end to end on $name', ({ postgres }) => {
  const srv = useServer(
    { env: { RATE_LIMITS: GENEROUS_LIMITS } },
    { postgres: postgres ? 'seccc' : undefined },
  );
  const open: TestSocket[] = [];
  afterAll(() => closeAll(...open));

  it('10 senders of "a\\u0000b" among 20 users of another organization: every good send stored', async () => {
    const attackers: Client[] = [];
    const victims: Client[] = [];
    for (let i = 0; i < 10; i++) attackers.push(await user(srv.url, `atk-${i}`, 'evil-org'));
    for (let i = 0; i < 20; i++) victims.push(await user(srv.url, `vic-${i}`, 'good-org'));
    open.push(...attackers.map((c) => c.socket), ...victims.map((c) => c.socket));
    const atkConv = await conversation(
      attackers[0],
      attackers.map((c) => c.userId),
    );
    const vicConvs = await Promise.all(
      [0, 1, 2, 3].map((g) =>
        conversation(
          victims[g * 5],
          victims.slice(g * 5, g * 5 + 5).map((c) => c.userId),
        ),
      ),
    );
    const sends: Array<Promise<{ bad: boolean; res: { ok: boolean; error?: { type: string } } }>> =
      [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 20; i++) {
        if (i % 2 === 0) {
          const atk = attackers[(i / 2) % 10];
          sends.push(
            rawRequest(atk.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId: atkConv.id,
              content: 'a\u0000b',
            }).then((res) => ({ bad: true, res: res })),
          );
        }
        sends.push(
          request(victims[i].socket, 'message:send', {
            messageId: randomUUID(),
            conversationId: vicConvs[Math.floor(i / 5)].id,
            content: `round ${round} from ${i}`,
          }).then((res) => ({ bad: false, res })),
        );
      }
    }
    const results = await Promise.all(sends);
    const good = results.filter((r) => !r.bad);
    const bad = results.filter((r) => r.bad);
    expect(good).toHaveLength(200);
    expect(good.filter((r) => !r.res.ok).map((r) => r.res.error?.type)).toEqual([]);
    expect(bad.every((r) => !r.res.ok && r.res.error?.type === 'VALIDATION_ERROR')).toBe(true);
  });
});
