import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect as sdkConnect,
  RealtimeClient,
  RealtimeError,
  type Message,
} from '@white-cross/realtime-client';
import { socketServerOf } from '../src/app.factory.js';
import { closeAll, connect, ok, request, type TestSocket } from './support/client.js';
import { GENEROUS_LIMITS, uid } from './support/messaging.js';
import { freePort, startServerProcess, type ServerProcess } from './support/process.js';
import { useServer } from './support/server.js';
import { createTestDatabase, hasPostgres, hasRedis, redisPrefix } from './support/services.js';
import { tcpProxy } from './support/tcp-proxy.js';
import { signToken, TEST_JWT_SECRET } from './support/tokens.js';
import { eventually } from './support/wait.js';

const token = (userId: string, organizationId: string) =>
  signToken({ userId, organizationId, role: 'nurse' });

describe('SDK errors a developer can act on (#14.7)', () => {
  const srv = useServer({
    env: { RATE_LIMITS: GENEROUS_LIMITS, CORS_ORIGIN: 'https://app.school.example' },
  });

  it('a wrong port: "could not reach the server at <url>", not a websocket error code', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const rt = new RealtimeClient({
      url,
      token: await token('n', uid('org')),
      maxReconnectAttempts: 0,
      outboxStorage: false,
    });
    const err = await rt.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RealtimeError);
    expect((err as RealtimeError).type).toBe('SERVICE_UNAVAILABLE');
    expect((err as RealtimeError).message).toContain(`Could not reach the server at ${url}`);
    expect((err as RealtimeError).details).toMatchObject({ url });
    rt.close();
  });

  it('a refused origin: the 403 body says "Origin not allowed" and the SDK surfaces it', async () => {
    const res = await fetch(`${srv.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toMatch(/origin not allowed/i);

    const rt = new RealtimeClient({
      url: srv.url,
      token: await token('n', uid('org')),
      transports: ['polling'],
      socketOptions: { extraHeaders: { origin: 'https://evil.example' } },
      maxReconnectAttempts: 0,
      outboxStorage: false,
    });
    const err = await rt.open().catch((e: unknown) => e);
    expect((err as RealtimeError).type).toBe('AUTHORIZATION_FAILED');
    expect((err as RealtimeError).message).toMatch(/origin not allowed/i);
    rt.close();
  });

  it('message:send without messageId is reported as required (isDefined)', async () => {
    const org = uid('org');
    const rt = await sdkConnect({
      url: srv.url,
      token: await token('n', org),
      outboxStorage: false,
    });
    try {
      const { conversation } = await rt.emit('conversation:create', { participantIds: ['x'] });
      const err = await rt
        .emit('message:send', { conversationId: conversation.id, content: 'hi' } as never)
        .catch((e: unknown) => e);
      expect((err as RealtimeError).type).toBe('VALIDATION_ERROR');
      expect((err as RealtimeError).details).toEqual([
        { field: 'messageId', constraints: expect.arrayContaining(['isDefined']) as unknown },
      ]);
    } finally {
      rt.close();
    }
  });

  it('sync:required: the SDK catches up every tracked conversation by itself and says how many', async () => {
    const org = uid('org');
    const [aId, bId] = [uid('a'), uid('b')];
    const rt = await sdkConnect({
      url: srv.url,
      token: await token(aId, org),
      outboxStorage: false,
    });
    const b = await connect(srv.url, await token(bId, org));
    try {
      const conversationId = randomUUID();
      await ok(b.socket, 'conversation:create', { conversationId, participantIds: [aId] });
      await rt.emit('conversation:join', { conversationId });
      const received: Message[] = [];
      rt.on('message:new', ({ message }) => received.push(message));
      const synced: Array<{ messages: number; reason: string }> = [];
      rt.on('client:synced', (i) => synced.push(i));

      // A lost adapter link, for real on the server: A's socket is out of every room while B sends.
      const io = socketServerOf(srv.app);
      const serverSocket = io.of('/').sockets.get(rt.socket.id!)!;
      const rooms = [...serverSocket.rooms].filter((r) => r !== serverSocket.id);
      for (const r of rooms) await serverSocket.leave(r);
      const missed: Message[] = [];
      for (let i = 0; i < 3; i++)
        missed.push(
          (
            await ok(b.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId,
              content: `missed ${i}`,
            })
          ).message,
        );
      expect(received).toEqual([]);
      for (const r of rooms) await serverSocket.join(r);
      serverSocket.emit('sync:required', { reason: 'adapter-recovered' });

      await eventually(() => synced.length === 1, 15_000, 'client:synced');
      expect(synced[0]).toEqual({ conversations: 1, messages: 3, reason: 'sync-required' });
      expect(received.map((m) => m.id)).toEqual(missed.map((m) => m.id));
      expect(rt.lastSeq(conversationId)).toBe(3);
    } finally {
      rt.close();
      closeAll(b.socket);
    }
  });
});

describe.skipIf(!hasPostgres())('SDK send retries (§12.8, #12.10)', () => {
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  // The server reaches its database through the proxy, which closes after the server and before
  // the database is dropped.
  const srv = useServer(
    async ({ databaseUrl }) => {
      const url = new URL(databaseUrl!);
      proxy = await tcpProxy(Number(url.port || 5432));
      url.host = `127.0.0.1:${proxy.port}`;
      return { env: { RATE_LIMITS: GENEROUS_LIMITS }, databaseUrl: url.toString() };
    },
    { postgres: 'sdkretry', afterClose: () => proxy?.close() },
  );

  it('the database drops out for 3 s: the send is retried with its messageId and stored once', async () => {
    const org = uid('org');
    const [aId, bId] = [uid('a'), uid('b')];
    const rt = await sdkConnect({
      url: srv.url,
      token: await token(aId, org),
      ackTimeoutMs: 3000,
      backoff: { baseDelayMs: 200, maxDelayMs: 1000 },
      outboxStorage: false,
    });
    const b = await connect(srv.url, await token(bId, org), { record: ['message:new'] });
    try {
      const conversationId = randomUUID();
      await ok(b.socket, 'conversation:create', { conversationId, participantIds: [aId] });
      await rt.emit('conversation:join', { conversationId });
      const outboxSizes: number[] = [];
      rt.on('client:outbox', (p) => outboxSizes.push(p.length));

      proxy.cut();
      const messageId = randomUUID();
      const sending = rt.sendMessage(conversationId, 'sent during an outage', { messageId });
      await eventually(
        () => rt.outbox.some((e) => e.attempts >= 2 && e.lastError !== undefined),
        15_000,
        'a failed attempt and a retry',
      );
      expect(rt.outbox[0].lastError).toMatch(/SERVICE_UNAVAILABLE|ACK_TIMEOUT|INTERNAL_ERROR/);
      setTimeout(() => proxy.restore(), 3000);
      const message = await sending;
      expect(message.id).toBe(messageId);
      expect(rt.outbox).toEqual([]);
      expect(outboxSizes.at(-1)).toBe(0);

      await b.recorder.until((r) => r.of('message:new').length >= 1);
      const history = await ok(b.socket, 'conversation:history', { conversationId });
      expect(history.messages.map((m) => m.id)).toEqual([messageId]); // stored exactly once
      expect(b.recorder.of('message:new').map((e) => e.message.id)).toEqual([messageId]);
    } finally {
      rt.close();
      closeAll(b.socket);
    }
  });

  it('gives up after the retry window and reports the last error', async () => {
    const org = uid('org');
    const rt = await sdkConnect({
      url: srv.url,
      token: await token(uid('a'), org),
      backoff: { baseDelayMs: 100, maxDelayMs: 300 },
      outboxStorage: false,
    });
    try {
      const { conversation } = await rt.emit('conversation:create', { participantIds: ['x'] });
      proxy.cut();
      const started = Date.now();
      const err = await rt
        .sendMessage(conversation.id, 'never stored', { retryWindowMs: 1500 })
        .catch((e: unknown) => e);
      expect((err as RealtimeError).type).toMatch(/SERVICE_UNAVAILABLE|ACK_TIMEOUT/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(rt.outbox).toEqual([]);
    } finally {
      proxy.restore();
      rt.close();
    }
  });
});

describe.skipIf(!hasPostgres() || !hasRedis())(
  'a frozen node is left within seconds (§12.8, #12.6)',
  () => {
    let a: ServerProcess | undefined;
    let b: ServerProcess | undefined;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const db = await createTestDatabase('frozen');
      drop = db.drop;
      const env = {
        DATABASE_URL: db.url,
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_KEY_PREFIX: redisPrefix('frozen'),
        JWT_SECRET: TEST_JWT_SECRET,
        RATE_LIMITS: GENEROUS_LIMITS,
        LOG_LEVEL: 'warn',
      };
      [a, b] = await Promise.all([
        startServerProcess({ ...env, NODE_ID: 'frozen-a' }),
        startServerProcess({ ...env, NODE_ID: 'frozen-b' }),
      ]);
    }, 90_000);
    afterAll(async () => {
      // Only our own processes, by PID: resume first so SIGTERM can be handled.
      a?.proc.kill('SIGCONT');
      await Promise.all([a?.stop('SIGKILL'), b?.stop('SIGKILL')]);
      await drop?.();
    });

    it('SIGSTOP on the node: two ack timeouts, reconnect to the next URL, the send is acked once', async () => {
      const org = uid('org');
      const [nId, pId] = [uid('nurse'), uid('peer')];
      const rt = await sdkConnect({
        url: [a!.url, b!.url],
        token: await token(nId, org),
        transports: ['websocket'],
        ackTimeoutMs: 1000,
        backoff: { baseDelayMs: 100, maxDelayMs: 500 },
        outboxStorage: false,
      });
      let peer: { socket: TestSocket } | undefined;
      try {
        expect(rt.url).toBe(a!.url);
        peer = await connect(b!.url, await token(pId, org), { record: ['message:new'] });
        const conversationId = randomUUID();
        await ok(peer.socket, 'conversation:create', { conversationId, participantIds: [nId] });
        await rt.emit('conversation:join', { conversationId });
        await rt.sendMessage(conversationId, 'before the freeze');

        a!.proc.kill('SIGSTOP');
        const started = Date.now();
        const messageId = randomUUID();
        const message = await rt.sendMessage(conversationId, 'during the freeze', { messageId });
        const tookMs = Date.now() - started;
        expect(message.id).toBe(messageId);
        expect(rt.url).toBe(b!.url);
        expect(tookMs).toBeLessThan(10_000); // not Socket.IO's 85 s heartbeat
        console.log(`frozen node left and send acked on the other node in ${tookMs} ms`);

        // The frozen node resumes and finally reads the attempts buffered in its socket: the
        // same messageId, so nothing is stored twice.
        a!.proc.kill('SIGCONT');
        await eventually(
          () =>
            peer!.socket.connected &&
            (peer as { recorder?: { of(e: string): unknown[] } }).recorder!.of('message:new')
              .length >= 2,
          15_000,
          'the peer to receive both messages',
        );
        const res = await request(peer.socket, 'conversation:history', { conversationId });
        expect(res.ok && res.data.messages.map((m) => m.content)).toEqual([
          'before the freeze',
          'during the freeze',
        ]);
      } finally {
        rt.close();
        closeAll(peer?.socket);
      }
    });
  },
);
