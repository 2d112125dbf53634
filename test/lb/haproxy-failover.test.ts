import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  haproxyAvailable,
  parseAccessLog,
  startHaproxy,
  type Haproxy,
  type ServerStat,
} from '../../scripts/haproxy.js';
import { closeAll, ok, type TestSocket } from '../support/client.js';
import {
  checkLedger,
  crashLines,
  eventually,
  Ledger,
  member,
  Sender,
  startCluster,
  type Cluster,
} from '../support/cluster.js';
import { freePort } from '../support/process.js';
import { hasPostgres, hasRedis, IN_CI } from '../support/services.js';
import { signToken } from '../support/tokens.js';

/**
 * Issue 15 item 3: HAProxy (deploy/haproxy.cfg, rendered with the test's ports) in front of three
 * server processes, with WebSocket and polling-only clients connected through it. Checks, in
 * order: /ready `degraded` (Redis down) keeps every node in rotation; a node drained with SIGTERM
 * and then another killed with SIGKILL are taken out (health checks on /ready, connection
 * refusals redispatched), every client reconnects through the balancer to the survivor, polling
 * sessions stay on one node for their whole life (HAProxy's access log: every successful request
 * of a session id was served by the same server), and nothing acknowledged is lost (ledger
 * against the database and history, and every receiver has every acknowledged message).
 */
const HAVE_HAPROXY = haproxyAvailable();
if (!HAVE_HAPROXY && !IN_CI)
  process.stderr.write(
    '\n*** test/lb SKIPPED: haproxy is not installed (apt-get install haproxy); CI fails instead ***\n\n',
  );

const CHECK_MS = 500;
const ORG = `lb-${Date.now().toString(36)}`;

type Transport = 'websocket' | 'polling';

interface LbClient {
  name: string;
  transport: Transport;
  socket: TestSocket;
  /** Engine.IO session ids this client had (polling: the ids in HAProxy's log). */
  sids: string[];
  disconnects: string[];
  /** seq → message id, from `message:new` (live or replayed) and from catch-up pages. */
  seqs: Map<number, string>;
  caughtUp: number;
}

/**
 * A client through the balancer that behaves like the SDK: reconnects by itself (Manager
 * reconnection), reconnects after a server disconnect (a drain) and after a refused handshake
 * (a draining node answers SERVICE_UNAVAILABLE), keeps the balancer's cookie (Node's
 * socket.io-client does so with withCredentials), and catches up with `conversation:join`
 * `afterSeq` when told to.
 */
function lbClient(url: string, token: string, name: string, transport: Transport): LbClient {
  const socket: TestSocket = io(url, {
    transports: [transport],
    withCredentials: true,
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    auth: { token },
    timeout: 5000,
  });
  const c: LbClient = {
    name,
    transport,
    socket,
    sids: [],
    disconnects: [],
    seqs: new Map(),
    caughtUp: 0,
  };
  socket.on('connect', () => {
    const sid = socket.io.engine?.id;
    if (sid) c.sids.push(sid);
  });
  socket.on('disconnect', (reason) => {
    c.disconnects.push(reason);
    if (reason === 'io server disconnect') socket.connect();
  });
  socket.on('connect_error', () => {
    if (!socket.active) setTimeout(() => socket.connect(), 200);
  });
  socket.on('message:new', ({ message }) => c.seqs.set(message.seq, message.id));
  return c;
}

/** Pages `conversation:join` from the first gap in what the client has (the SDK's catch-up). */
async function catchUp(c: LbClient, conversationId: string): Promise<void> {
  let after = 0;
  while (c.seqs.has(after + 1)) after++;
  for (;;) {
    const page = await ok(c.socket, 'conversation:join', {
      conversationId,
      afterSeq: after,
      limit: 100,
    });
    for (const m of page.messages) {
      if (!c.seqs.has(m.seq)) c.caughtUp++;
      c.seqs.set(m.seq, m.id);
    }
    if (page.messages.length === 0 || !page.hasMore) return;
    after = page.messages[page.messages.length - 1].seq;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The access log (parseAccessLog) with each request's accept time (`[%tr]`, HAProxy's local
 * time, read as this process's local time: both run on this machine), in ms since the epoch.
 */
function timedAccessLog(
  lines: string[],
): Array<ReturnType<typeof parseAccessLog>[number] & { at: number }> {
  const re = /\[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})\.(\d{3})\]/;
  return lines.flatMap((line) => {
    const [parsed] = parseAccessLog([line]);
    const m = re.exec(line);
    if (!parsed || !m) return [];
    const at = new Date(
      Number(m[3]),
      MONTHS.indexOf(m[2]),
      Number(m[1]),
      Number(m[4]),
      Number(m[5]),
      Number(m[6]),
      Number(m[7]),
    ).getTime();
    return [{ ...parsed, at }];
  });
}

const statusOf = (s: ServerStat[], name: string) => s.find((x) => x.name === name)?.status ?? '?';

describe.skipIf((!HAVE_HAPROXY && !IN_CI) || !(hasRedis() && hasPostgres()))(
  'HAProxy in front of three nodes: drain, kill, sticky polling, nothing acked lost',
  () => {
    let cluster: Cluster;
    let lb: Haproxy;
    const open: TestSocket[] = [];

    beforeAll(async () => {
      if (!HAVE_HAPROXY) throw new Error('haproxy is not installed (CI installs it in .ci/run)');
      cluster = await startCluster({
        env: {
          TRUST_PROXY: 'loopback',
          RATE_LIMITS: JSON.stringify({
            'handshake:ip': { maxTokens: 100000, refillIntervalMs: 1 },
            'handshake:user': { maxTokens: 100000, refillIntervalMs: 1 },
            'message:send': { maxTokens: 100000, refillIntervalMs: 1 },
            'conversation:join': { maxTokens: 100000, refillIntervalMs: 1 },
            default: { maxTokens: 100000, refillIntervalMs: 1 },
          }),
        },
      });
      lb = await startHaproxy({
        port: await freePort(),
        checkIntervalMs: CHECK_MS,
        servers: cluster.nodes.map((n, i) => ({
          name: `node-${i + 1}`,
          host: '127.0.0.1',
          port: n.port,
        })),
      });
      await lb.waitForServers((s) => s.every((x) => x.status === 'UP'), 10_000, 'all nodes UP');
    }, 120_000);

    afterAll(async () => {
      closeAll(...open);
      await lb?.stop();
      await cluster?.close();
    });

    it('Redis down: /ready 200 degraded keeps every node in rotation', async () => {
      await cluster.redis.down();
      try {
        for (const n of cluster.nodes)
          await eventually(
            async () => {
              const res = await fetch(`${n.url}/ready`);
              return { status: res.status, body: (await res.json()) as { status: string } };
            },
            (r) => r.status === 200 && r.body.status === 'degraded',
            10_000,
            `${n.url} /ready degraded`,
          );
        // Enough check rounds for `fall 3` to have taken a node out, were 'degraded' a failure.
        const before = await lb.servers();
        await new Promise((r) => setTimeout(r, CHECK_MS * 5));
        const after = await lb.servers();
        for (const s of after) {
          expect(s.status, s.name).toBe('UP');
          // No check failed meanwhile (a 503 or a timeout would count), and the last one was a
          // layer-7 success (`* L7OK` or `INI` while the next check is in flight).
          expect(s.checkStatus, s.name).toMatch(/L7OK|INI/);
          expect(s.checkFailures, s.name).toBe(
            before.find((b) => b.name === s.name)!.checkFailures,
          );
        }
        // …and a client still connects through the balancer.
        const t = await signToken({ userId: 'probe', organizationId: ORG, role: 'staff' });
        const probe = lbClient(lb.url, t, 'probe', 'websocket');
        open.push(probe.socket);
        await eventually(
          async () => probe.socket.connected,
          (v) => v,
          10_000,
          'probe connected',
        );
        probe.socket.disconnect();
      } finally {
        await cluster.redis.up();
      }
      for (const n of cluster.nodes)
        await eventually(
          async () => ((await (await fetch(`${n.url}/ready`)).json()) as { status: string }).status,
          (s) => s === 'ok',
          15_000,
          `${n.url} /ready ok again`,
        );
    }, 60_000);

    it('drain one node, kill another: clients reconnect through HAProxy, polling stays sticky, nothing acked is lost', async () => {
      const [n1, n2, n3] = cluster.nodes;
      const reader = await member(n3.url, 'reader', ORG);
      open.push(reader.socket);
      const names = [
        ...['ws1', 'ws2', 'ws3', 'wsr'].map((n) => ({ n, t: 'websocket' as const })),
        ...['po1', 'po2', 'po3', 'por'].map((n) => ({ n, t: 'polling' as const })),
      ];
      const clients = await Promise.all(
        names.map(async ({ n, t }) =>
          lbClient(
            lb.url,
            await signToken({ userId: n, organizationId: ORG, role: 'staff' }),
            n,
            t,
          ),
        ),
      );
      open.push(...clients.map((c) => c.socket));
      await eventually(
        async () => clients.every((c) => c.socket.connected),
        (v) => v,
        15_000,
        'all clients connected through HAProxy',
      );
      const { conversation } = await ok(reader.socket, 'conversation:create', {
        participantIds: names.map((x) => x.n),
      });
      for (const c of clients) {
        c.socket.on(
          'conversation:sync-required',
          () => void catchUp(c, conversation.id).catch(() => undefined),
        );
        c.socket.on('sync:required', () => void catchUp(c, conversation.id).catch(() => undefined));
      }
      const ledger = new Ledger();
      const senders = clients
        .filter((c) => !c.name.endsWith('r'))
        .map(
          (c) =>
            new Sender(c.socket, conversation.id, ledger, { concurrency: 2, ackTimeoutMs: 8000 }),
        );
      senders.forEach((s) => s.start());
      const acksReach = (n: number, what: string) =>
        eventually(
          async () => ledger.acked.length,
          (v) => v >= n,
          20_000,
          what,
        ).catch((err: Error) => {
          const kinds = new Map<string, number>();
          for (const s of ledger.sends) {
            const k = s.result.kind === 'error' ? s.result.type : s.result.kind;
            kinds.set(k, (kinds.get(k) ?? 0) + 1);
          }
          throw new Error(
            `${err.message}; outcomes ${JSON.stringify([...kinds])}; connected ${clients.map((c) => `${c.name}:${c.socket.connected}`).join(' ')}`,
          );
        });
      const allConnected = (what: string) =>
        eventually(
          async () => clients.filter((c) => !c.socket.connected).map((c) => c.name),
          (v) => v.length === 0,
          20_000,
          what,
        );

      await acksReach(60, '60 acks before the faults');
      const spread = await lb.servers();

      // 1. Drain node-1 (SIGTERM): exit 0, HAProxy takes it out on /ready 503.
      const drainedAt = Date.now();
      expect(await n1.stop('SIGTERM')).toBe(0);
      await lb.waitForServers((s) => statusOf(s, 'node-1') === 'DOWN', 10_000, 'node-1 DOWN');
      await allConnected('clients back after the drain');
      await acksReach(ledger.acked.length + 60, 'acks after the drain');

      // 2. Kill node-2 (SIGKILL): refused connections, then marked DOWN.
      const killedAt = Date.now();
      await n2.stop('SIGKILL');
      await lb.waitForServers((s) => statusOf(s, 'node-2') === 'DOWN', 10_000, 'node-2 DOWN');
      await allConnected('clients back after the kill');
      await acksReach(ledger.acked.length + 60, 'acks after the kill');
      const recoveredMs = Date.now() - killedAt;

      await Promise.all(senders.map((s) => s.stop()));
      const final = await lb.servers();
      expect(statusOf(final, 'node-3')).toBe('UP');

      // The faults hit clients: someone was drained and someone lost its node.
      const reasons = clients.flatMap((c) => c.disconnects);
      expect(reasons).toContain('io server disconnect');
      expect(reasons.some((r) => r === 'transport close' || r === 'transport error')).toBe(true);

      // Nothing acknowledged lost: database (exactly once, gapless seqs) and history…
      const { acked, stored } = await checkLedger(cluster, reader.socket, conversation.id, ledger);
      expect(
        ledger
          .errors()
          .every((s) => s.result.kind === 'error' && s.result.type === 'SERVICE_UNAVAILABLE'),
      ).toBe(true);
      // …and every receiver (every participant's socket) has every acknowledged message.
      await Promise.all(clients.map((c) => catchUp(c, conversation.id)));
      for (const c of clients) {
        const missing = ledger.acked.filter((s) => c.seqs.get(s.result.seq) !== s.messageId);
        expect(missing.length, `${c.name} misses acked messages`).toBe(0);
      }

      // Sticky polling: every successful request of a polling session went to one server.
      await eventually(
        async () => parseAccessLog(lb.log).length,
        (n) => n > 0,
        5000,
        'access log',
      );
      const log = parseAccessLog(lb.log);
      const pollingSids = clients.filter((c) => c.transport === 'polling').flatMap((c) => c.sids);
      expect(pollingSids.length).toBeGreaterThan(4); // 4 clients, at least one reconnected
      const servedBy = new Map<string, Set<string>>();
      const requests = new Map<string, number>();
      for (const l of log) {
        if (l.sid === '-' || l.status !== 200) continue;
        servedBy.set(l.sid, (servedBy.get(l.sid) ?? new Set()).add(l.server));
        requests.set(l.sid, (requests.get(l.sid) ?? 0) + 1);
      }
      const moved: string[] = [];
      for (const sid of pollingSids.map((s) => s.slice(0, 8))) {
        expect(
          requests.get(sid) ?? 0,
          `polling session ${sid} in the access log`,
        ).toBeGreaterThanOrEqual(2);
        if (servedBy.get(sid)!.size !== 1)
          moved.push(`${sid}: ${[...servedBy.get(sid)!].join('+')}`);
      }
      expect(moved).toEqual([]);
      // …and no request of a polling session was sent to another node while the session's own
      // node was still up: such a request is answered 400 (Engine.IO's `Session ID unknown`), so
      // the 200-only check above would never see it. A session's node is the one that served its
      // first successful request; it is up until the test stopped it (drain or kill), after which
      // a 400 from the node the balancer redispatched to is expected.
      const stoppedAt: Record<string, number> = { 'node-1': drainedAt, 'node-2': killedAt };
      const timed = timedAccessLog(lb.log);
      expect(timed.length, 'every access-log line has its time').toBe(log.length);
      const firstServer = new Map<string, string>();
      for (const l of timed)
        if (l.sid !== '-' && l.status === 200 && !firstServer.has(l.sid))
          firstServer.set(l.sid, l.server);
      const polled = new Set(pollingSids.map((s) => s.slice(0, 8)));
      const misrouted = timed
        .filter((l) => polled.has(l.sid) && l.status === 400)
        .filter((l) => {
          const own = firstServer.get(l.sid);
          return own !== undefined && l.at < (stoppedAt[own] ?? Infinity);
        })
        .map((l) => `${l.sid}: 400 from ${l.server} at ${new Date(l.at).toISOString()}`);
      expect(misrouted, 'polling requests answered 400 while their node was up').toEqual([]);
      // Polling sessions lived on the nodes that went away, and later ones on the survivor.
      const polledOn = new Set(pollingSids.map((s) => [...servedBy.get(s.slice(0, 8))!][0]));
      expect(polledOn.has('node-3')).toBe(true);
      expect(polledOn.has('node-1') || polledOn.has('node-2')).toBe(true);

      for (const n of cluster.nodes) expect(crashLines(n)).toEqual([]);
      expect(lb.stderr.filter((l) => /ALERT/.test(l))).toEqual([]);
      process.stdout.write(
        `HAProxy failover: HAProxy sessions (HTTP requests and tunnels) per node before the faults ${spread.map((s) => `${s.name}=${s.stot}`).join(' ')}; ` +
          `${acked} acked (${stored} stored, ${ledger.errors().length} SERVICE_UNAVAILABLE, ${ledger.unanswered.length} unanswered at a disconnect); ` +
          `disconnects ${reasons.join(',')}; ${pollingSids.length} polling sessions, ${[...requests.values()].reduce((a, b) => a + b, 0)} sticky polling requests, ${timed.filter((l) => polled.has(l.sid) && l.status === 400).length} answered 400 after their node was stopped; ` +
          `caught up after reconnects ${clients.map((c) => `${c.name}:${c.caughtUp}`).join(' ')}; back to ${60} acks ${recoveredMs} ms after the kill\n`,
      );
    }, 90_000);
  },
);
