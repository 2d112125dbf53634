import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Alert, Message } from '../src/protocol/models.js';
import { client, ok, type TestSocket } from './support/client.js';
import { GENEROUS_LIMITS, user as connectUser, type Client } from './support/messaging.js';
import { startServer, type TestServer } from './support/server.js';
import {
  createTestDatabase,
  hasPostgres,
  hasRedis,
  redisPrefix,
  REDIS_TEST_URL,
} from './support/services.js';
import { signToken } from './support/tokens.js';
import { eventually } from './support/wait.js';

/**
 * §12.4 in a connect storm: hundreds of sockets of one organization connect at once to two nodes
 * (one Redis, one PostgreSQL) while messages are sent to their conversations and an emergency
 * alert is raised and re-sent. A socket's replay (§4 step 4) then runs after live emits already
 * reached it, and live broadcasts of items the replay already sent are still in flight. Per
 * session: every message exactly once as `message:new` (live or replayed), the alert exactly once
 * without `redelivered`, nothing missing.
 */
const USERS = 240;
const COMM_EVERY = 4; // every 4th user also has a /communication socket
const CONVERSATIONS = 3;
const RESEND_MS = 400;

interface StormSocket {
  userId: string;
  namespace: '/' | '/communication';
  socket: TestSocket;
  conversationId: string;
  messages: Message[];
  messageFlags: Array<{ id: string; replayed: boolean }>;
  alerts: Array<{ id: string; replayed: boolean; redelivered: boolean }>;
  confirmed: boolean;
  error?: string;
}

describe.skipIf(!hasRedis() || !hasPostgres())(
  'connect storm: at most once per session (§12.4)',
  () => {
    const nodes: TestServer[] = [];
    let dropDb: (() => Promise<void>) | undefined;
    const sockets: StormSocket[] = [];
    let sender: Client | undefined;
    const org = `storm-${randomUUID().slice(0, 6)}`;

    beforeAll(async () => {
      const db = await createTestDatabase('storm');
      dropDb = db.drop;
      const env = {
        REDIS_URL: REDIS_TEST_URL,
        REDIS_KEY_PREFIX: redisPrefix('storm'),
        ALERT_RESEND_INTERVAL_MS: String(RESEND_MS),
        RATE_LIMITS: GENEROUS_LIMITS,
        LOG_LEVEL: 'info',
      };
      nodes.push(await startServer({ env, databaseUrl: db.url }));
      nodes.push(await startServer({ env, databaseUrl: db.url }));
    });
    afterAll(async () => {
      for (const s of sockets) s.socket.close();
      sender?.socket.close();
      for (const n of nodes) await n.close();
      await dropDb?.();
    });

    it('every session gets each message and the alert exactly once, live or replayed', async () => {
      const userIds = Array.from({ length: USERS }, (_, i) => `u${i}`);
      sender = await connectUser(nodes[0].url, 'sender', org, { record: [] });
      const conversationIds: string[] = [];
      const per = Math.ceil(USERS / CONVERSATIONS);
      for (let c = 0; c < CONVERSATIONS; c++) {
        const { conversation } = await ok(sender.socket, 'conversation:create', {
          participantIds: userIds.slice(c * per, (c + 1) * per),
        });
        conversationIds.push(conversation.id);
      }
      const conversationOf = (i: number) => conversationIds[Math.floor(i / per)];
      const sent = new Map<string, Message[]>(conversationIds.map((id) => [id, []]));
      const sendOne = async (k: number) => {
        const conversationId = conversationIds[k % CONVERSATIONS];
        const { message } = await ok(sender!.socket, 'message:send', {
          messageId: randomUUID(),
          conversationId,
          content: `storm ${k}`,
        });
        sent.get(conversationId)!.push(message);
      };
      // A few messages before the storm: replayed only.
      for (let k = 0; k < 6; k++) await sendOne(k);

      const service = await signToken({ userId: 'svc', organizationId: org, role: 'service' });
      const tokens = await Promise.all(
        userIds.map((userId) => signToken({ userId, organizationId: org, role: 'staff' })),
      );

      // The storm: every socket starts its handshake at once, half on each node.
      const open = (i: number, namespace: '/' | '/communication'): StormSocket => {
        const node = nodes[(i + (namespace === '/' ? 0 : 1)) % 2];
        const socket = client(node.url, tokens[i], { namespace, timeoutMs: 60_000 });
        const s: StormSocket = {
          userId: userIds[i],
          namespace,
          socket,
          conversationId: conversationOf(i),
          messages: [],
          messageFlags: [],
          alerts: [],
          confirmed: false,
        };
        socket.on('connection:confirmed', () => (s.confirmed = true));
        socket.on('connect_error', (err) => (s.error = err.message));
        socket.on('message:new', (p) => {
          s.messages.push(p.message);
          s.messageFlags.push({ id: p.message.id, replayed: p.replayed === true });
        });
        if (namespace === '/')
          socket.on('alert:emergency', (p) =>
            s.alerts.push({
              id: p.alert.id,
              replayed: p.replayed === true,
              redelivered: p.redelivered === true,
            }),
          );
        return s;
      };
      for (let i = 0; i < USERS; i++) {
        sockets.push(open(i, '/'));
        if (i % COMM_EVERY === 0) sockets.push(open(i, '/communication'));
      }

      // Messages keep flowing during the storm; the alert is raised in the middle of it.
      let k = 6;
      const confirmedCount = () => sockets.filter((s) => s.confirmed).length;
      let alert: Alert | undefined;
      // Raised in the middle of the storm: two nodes and hundreds of handshakes share this
      // process, so the answer may take longer than the usual 10 s of test/support/http.ts.
      const raise = async (): Promise<Alert> => {
        const res = await fetch(`${nodes[1].url}/api/v1/alerts/emergency`, {
          method: 'POST',
          headers: { authorization: `Bearer ${service}`, 'content-type': 'application/json' },
          body: JSON.stringify({ organizationId: org, title: 'Lockdown', message: 'Stay inside' }),
          signal: AbortSignal.timeout(60_000),
        });
        expect(res.status).toBe(202);
        return ((await res.json()) as { alert: Alert }).alert;
      };
      const stormDeadline = Date.now() + 90_000;
      while (confirmedCount() < sockets.length && Date.now() < stormDeadline) {
        await Promise.all([sendOne(k++), sendOne(k++), sendOne(k++)]);
        if (!alert && confirmedCount() >= sockets.length / 10) alert = await raise();
      }
      const refused = sockets.filter((s) => s.error);
      expect(refused.map((s) => s.error)).toEqual([]);
      expect(confirmedCount()).toBe(sockets.length);
      alert ??= await raise();
      // A last message to every conversation: once each socket has it, everything before it on
      // the same path arrived too. Then the alert must be re-sent (redelivered) at least once.
      for (let c = 0; c < CONVERSATIONS; c++) await sendOne(k++);
      const everything = () =>
        sockets.every((s) => {
          const ids = new Set(s.messages.map((m) => m.id));
          const wantAlert =
            s.namespace === '/communication' || s.alerts.some((a) => !a.redelivered);
          return wantAlert && sent.get(s.conversationId)!.every((m) => ids.has(m.id));
        });
      await eventually(everything, 60_000, 'every message and the alert on every socket');
      await eventually(
        () => sockets.some((s) => s.alerts.some((a) => a.redelivered)),
        60_000,
        'a re-send',
      );
      // Late duplicates (a live broadcast after the replay) would arrive within this round trip
      // of every node's adapter: one more message to every conversation, received everywhere.
      for (let c = 0; c < CONVERSATIONS; c++) await sendOne(k++);
      await eventually(everything, 60_000, 'the final messages');

      let duplicateMessages = 0;
      let duplicateAlerts = 0;
      let missing = 0;
      let replayedMessages = 0;
      let replayedAlerts = 0;
      let liveAlerts = 0;
      const examples: string[] = [];
      for (const s of sockets) {
        const seen = new Set<string>();
        for (const m of s.messageFlags) {
          if (m.replayed) replayedMessages++;
          if (seen.has(m.id)) {
            duplicateMessages++;
            if (examples.length < 5) examples.push(`${s.userId}${s.namespace} message ${m.id}`);
          }
          seen.add(m.id);
        }
        for (const m of sent.get(s.conversationId)!) if (!seen.has(m.id)) missing++;
        if (s.namespace !== '/') continue;
        const firstCopies = s.alerts.filter((a) => a.id === alert.id && !a.redelivered);
        if (firstCopies.some((a) => a.replayed)) replayedAlerts++;
        else if (firstCopies.length > 0) liveAlerts++;
        if (firstCopies.length !== 1) {
          if (firstCopies.length === 0) missing++;
          else duplicateAlerts += firstCopies.length - 1;
          if (examples.length < 5)
            examples.push(
              `${s.userId} alert ×${firstCopies.length} ${JSON.stringify(firstCopies)}`,
            );
        }
      }
      // The storm really raced: some sessions got items replayed, some live.
      expect(replayedMessages).toBeGreaterThan(0);
      expect({ duplicateMessages, duplicateAlerts, missing, examples }).toEqual({
        duplicateMessages: 0,
        duplicateAlerts: 0,
        missing: 0,
        examples: [],
      });
      // Whether the alert reached sessions by replay too depends on the timing of the storm (the
      // deterministic races are in delivery-guard.test.ts); the count is in the failure message.
      expect(replayedAlerts + liveAlerts).toBe(sockets.filter((s) => s.namespace === '/').length);
    }, 240_000);
  },
);
