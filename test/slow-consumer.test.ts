import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeAll, connect, ok, request } from './support/client.js';
import { GENEROUS_LIMITS, user } from './support/messaging.js';
import { useServer } from './support/server.js';
import { signToken } from './support/tokens.js';
import { eventually } from './support/wait.js';

/** Reads one counter from /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** A raw websocket client that completes the handshake, then stops reading (its TCP socket paused). */
async function stalledClient(url: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('raw handshake timed out')), 5000);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
      if (text.startsWith('40{')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  return ws;
}

describe('a socket that does not read is dropped and recovers on reconnect (§8)', () => {
  const srv = useServer({
    env: { RATE_LIMITS: GENEROUS_LIMITS, WS_MAX_BUFFERED_BYTES: '262144' },
  });

  it('drops the stalled socket only, then replays what it missed', async () => {
    const org = 'school-slow';
    const sender = await user(srv.url, 'sender', org);
    const bystander = await user(srv.url, 'bystander', org);
    const { conversation } = await ok(sender.socket, 'conversation:create', {
      participantIds: ['stalled', 'bystander'],
    });

    // A raw websocket client for "stalled" that completes the handshake, then stops reading.
    const token = await signToken({ userId: 'stalled', organizationId: org });
    const ws = await stalledClient(srv.url, token);

    // Push far more than the kernel buffers and WS_MAX_BUFFERED_BYTES hold.
    const before = await metric(srv.url, 'realtime_slow_consumers_dropped_total');
    const content = 'x'.repeat(8000);
    let sent = 0;
    while ((await metric(srv.url, 'realtime_slow_consumers_dropped_total')) === before) {
      expect(sent, 'the stalled socket was never dropped').toBeLessThan(3000);
      await Promise.all(
        Array.from({ length: 25 }, () =>
          ok(sender.socket, 'message:send', {
            messageId: randomUUID(),
            conversationId: conversation.id,
            content,
          }),
        ),
      );
      sent += 25;
    }
    expect(await metric(srv.url, 'realtime_slow_consumers_dropped_total')).toBe(before + 1);
    ws.terminate();

    // Everyone else is unaffected.
    expect((await request(bystander.socket, 'ping')).ok).toBe(true);
    expect((await request(sender.socket, 'ping')).ok).toBe(true);

    // Reconnecting, the stalled user learns what it missed (more than 100 → sync-required) and pages it in.
    const again = await connect(srv.url, token, {
      record: ['conversation:sync-required', 'message:new'],
    });
    await again.recorder.until(
      (r) => r.of('conversation:sync-required').some((x) => x.conversationId === conversation.id),
      10_000,
      'conversation:sync-required',
    );
    const sync = again.recorder
      .of('conversation:sync-required')
      .find((x) => x.conversationId === conversation.id)!;
    expect(again.recorder.of('message:new')).toHaveLength(0); // never a partial replay
    const missed = sync.lastSeq - sync.deliveredSeq;
    expect(missed).toBe(sent);
    const page = await ok(again.socket, 'conversation:join', {
      conversationId: conversation.id,
      afterSeq: 0,
      limit: 100,
    });
    expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(page.lastSeq).toBe(sent);
    closeAll(sender.socket, bystander.socket, again.socket);
  }, 120_000);

  it('under load (event loop busy, bursts of sends): dropped at write time, exactly once, and the connection is really gone', async () => {
    const org = 'school-slow-load';
    const sender = await user(srv.url, 'sender', org);
    const { conversation } = await ok(sender.socket, 'conversation:create', {
      participantIds: ['stalled'],
    });
    const token = await signToken({ userId: 'stalled', organizationId: org });
    const ws = await stalledClient(srv.url, token);
    const presence = async () =>
      (await ok(sender.socket, 'presence:query', { userIds: ['stalled'] })).users[0].status;
    // Presence writes may be batched: wait until the stalled user shows online.
    await eventually(
      async () => (await presence()) === 'online',
      5000,
      'the stalled user showing online',
    );

    // A loaded node: the event loop is busy 150 ms of every 200 ms (a periodic sweep runs late).
    const hog = setInterval(() => {
      const until = Date.now() + 150;
      while (Date.now() < until);
    }, 200);
    const before = await metric(srv.url, 'realtime_slow_consumers_dropped_total');
    const content = 'y'.repeat(9_000);
    let sent = 0;
    try {
      while ((await metric(srv.url, 'realtime_slow_consumers_dropped_total')) === before) {
        expect(sent, 'the stalled socket was never dropped').toBeLessThan(4000);
        await Promise.all(
          Array.from({ length: 60 }, () =>
            ok(sender.socket, 'message:send', {
              messageId: randomUUID(),
              conversationId: conversation.id,
              content,
            }),
          ),
        );
        sent += 60;
      }
    } finally {
      clearInterval(hog);
    }
    // The connection is closed on the server at once (its session ends: the user goes offline),
    // not left "closing" behind a write buffer that never drains.
    await eventually(
      async () => (await presence()) === 'offline',
      3000,
      'the dropped socket giving up its session',
    );
    // More traffic to the conversation does not count it again (it is gone, not swept twice).
    for (let i = 0; i < 3; i++)
      await ok(sender.socket, 'message:send', {
        messageId: randomUUID(),
        conversationId: conversation.id,
        content,
      });
    expect(await metric(srv.url, 'realtime_slow_consumers_dropped_total')).toBe(before + 1);
    process.stdout.write(
      `slow consumer dropped after ${sent} sends of 9 kB (${((sent * 9_000) / 1e6).toFixed(1)} MB, kernel buffers included) with the event loop 75 % busy\n`,
    );
    ws.terminate();
    closeAll(sender.socket);
  }, 120_000);
});
