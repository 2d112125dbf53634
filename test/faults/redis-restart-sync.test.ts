import { describe, expect, it } from 'vitest';
import { ok } from '../support/client.js';
import {
  expectRunningWithoutCrash,
  eventually,
  member,
  metricValue,
  useCluster,
} from '../support/cluster.js';
import { http } from '../support/http.js';
import { hasPostgres, hasRedis } from '../support/services.js';

/**
 * §12.8 / issue 12 points 5 and 7: Redis is killed and restarted (empty). While it is down every
 * node keeps acknowledging (the database is up) and answers /ready 200 `degraded`; live
 * deliveries between nodes are lost meanwhile. When a node's adapter link comes back it sends
 * `sync:required {reason: "adapter-recovered"}` to each of its sockets, on both namespaces, and
 * `conversation:join` with `afterSeq` gives the receiver everything it missed.
 */
describe.skipIf(!(hasRedis() && hasPostgres()))(
  'Redis restarts: sync:required and catch-up',
  () => {
    const cluster = useCluster();
    const open = cluster.open;

    it('every connected socket of every node gets sync:required once Redis is back; afterSeq catch-up yields every acknowledged message exactly once', async () => {
      const [A, B, C] = cluster.nodes;
      const org = `restart-${Date.now().toString(36)}`;
      const rec = ['message:new', 'sync:required'] as const;
      const sender = await member(C.url, 'sender', org, [...rec]);
      const onA = await member(A.url, 'reader', org, [...rec]);
      const onB = await member(B.url, 'reader', org, [...rec], '/communication');
      const bystander = await member(C.url, 'bystander', org, [...rec]);
      const sockets = [sender, onA, onB, bystander];
      open.push(...sockets.map((s) => s.socket));
      const { conversation } = await ok(sender.socket, 'conversation:create', {
        participantIds: ['reader'],
      });
      const send = async (content: string) =>
        (
          await ok(sender.socket, 'message:send', {
            messageId: crypto.randomUUID(),
            conversationId: conversation.id,
            content,
          })
        ).message;
      const first = await send('before');
      for (const r of [onA, onB])
        await r.recorder.until((x) => x.of('message:new').some((m) => m.message.id === first.id));
      const acked = [first];

      // Redis dies. Sends keep being acknowledged; /ready stays 200 (degraded) on every node.
      await cluster.redis.down();
      for (let i = 0; i < 10; i++) acked.push(await send(`during ${i}`));
      for (const n of cluster.nodes) {
        const ready = await eventually(
          () => http<{ status: string; checks: Record<string, string> }>(n.url, 'GET', '/ready'),
          (r) => r.body.checks?.redis === 'down',
          5000,
          'redis down on /ready',
        );
        expect(ready.status).toBe(200);
        expect(ready.body).toEqual({
          status: 'degraded',
          checks: { database: 'up', redis: 'down' },
        });
      }
      for (const s of sockets) expect(s.recorder.of('sync:required')).toEqual([]);

      // Redis returns (empty). Every socket of every node is told to catch up.
      await cluster.redis.up();
      const back = Date.now();
      for (const s of sockets)
        await s.recorder.until((r) => r.of('sync:required').length > 0, 10_000, 'sync:required');
      const syncMs = Date.now() - back;
      for (const s of sockets)
        expect(s.recorder.of('sync:required')).toEqual([{ reason: 'adapter-recovered' }]);
      const recoveries = await Promise.all(
        cluster.nodes.map((n) => metricValue(n.url, 'realtime_adapter_recoveries_total')),
      );
      expect(recoveries).toEqual([1, 1, 1]);

      // Live delivery works again, and the catch-up gives every receiver what it missed.
      acked.push(await send('after'));
      for (const r of [onA, onB]) {
        // The last seq it holds from before the outage (what a client keeps per conversation).
        const page = await ok(r.socket, 'conversation:join', {
          conversationId: conversation.id,
          afterSeq: first.seq,
          limit: 100,
        });
        const count = new Map<string, number>();
        for (const m of page.messages) count.set(m.id, (count.get(m.id) ?? 0) + 1);
        for (const m of acked.slice(1)) expect(count.get(m.id)).toBe(1);
        expect(page.messages.map((m) => m.seq)).toEqual(
          Array.from({ length: page.lastSeq - first.seq }, (_, i) => first.seq + i + 1),
        );
      }
      await eventually(
        () => http<{ status: string }>(A.url, 'GET', '/ready'),
        (r) => r.status === 200 && r.body.status === 'ok',
        5000,
        '/ready ok again',
      );
      process.stdout.write(
        `sync:required reached every socket ${syncMs} ms after Redis returned\n`,
      );
      expectRunningWithoutCrash(cluster.nodes);
    }, 90_000);
  },
);
