import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { closeAll, connect, request, type TestSocket } from './support/client.js';
import { useServer } from './support/server.js';
import { signToken } from './support/tokens.js';

/** A raw Engine.IO v4 websocket client that completes the Socket.IO handshake on `/`. */
interface RawClient {
  ws: WebSocket;
  frames: string[];
  closed: Promise<void>;
  /** Resolves with the first frame (already received or future) matching, or rejects on timeout. */
  frame(match: (f: string) => boolean, timeoutMs?: number): Promise<string>;
}

async function rawClient(url: string, token: string): Promise<RawClient> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
  const frames: string[] = [];
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  const frame = (match: (f: string) => boolean, timeoutMs = 3000) =>
    new Promise<string>((resolve, reject) => {
      const seen = frames.find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error('frame not received')), timeoutMs);
      const onMessage = (data: Buffer) => {
        const text = data.toString();
        if (!match(text)) return;
        clearTimeout(timer);
        ws.off('message', onMessage);
        resolve(text);
      };
      ws.on('message', onMessage);
    });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('raw handshake timed out')), 5000);
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      frames.push(text);
      if (text.startsWith('0{')) ws.send(`40${JSON.stringify({ token })}`);
      if (text === '2') ws.send('3'); // heartbeat
      if (text.startsWith('40{')) {
        clearTimeout(timer);
        resolve();
      }
    });
    ws.once('error', reject);
  });
  return { ws, frames, closed, frame };
}

describe('malformed packets, unknown events and oversized frames never crash the process', () => {
  const srv = useServer({ env: { WS_MAX_PAYLOAD_BYTES: '16384' } });
  let bystander: TestSocket;
  beforeAll(async () => {
    bystander = (
      await connect(srv.url, await signToken({ userId: 'bystander', organizationId: 'o1' }))
    ).socket;
  });
  afterAll(async () => {
    closeAll(bystander);
  });

  const stillHealthy = async () => {
    const res = await fetch(`${srv.url}/health`);
    expect(res.status).toBe(200);
    expect((await request(bystander, 'ping')).ok).toBe(true);
  };

  for (const packet of [
    '42{}',
    '4abc',
    '42[{"toString":"x"}]',
    '42["error"]',
    '42[]',
    '42["ping",',
    '49',
    '4',
    'garbage',
    '42["__proto__",{}]',
    '42[null]',
  ]) {
    it(`survives ${JSON.stringify(packet)}`, async () => {
      const { ws, closed, frame } = await rawClient(
        srv.url,
        await signToken({ userId: 'raw', organizationId: 'o1' }),
      );
      ws.send(packet);
      // A parser error closes only this connection; otherwise the socket keeps answering.
      ws.send('42["ping"]');
      await Promise.race([closed, frame((f) => f.startsWith('42["pong"'))]);
      ws.terminate();
      await stillHealthy();
    });
  }

  it('answers an unknown event from a raw client with an error packet', async () => {
    const { ws, frame } = await rawClient(
      srv.url,
      await signToken({ userId: 'raw2', organizationId: 'o1' }),
    );
    ws.send('421["definitely-unknown",{}]');
    const ack = await frame((f) => f.startsWith('431'));
    expect((JSON.parse(ack.slice(3)) as unknown[])[0]).toMatchObject({
      ok: false,
      error: { type: 'BAD_REQUEST' },
    });
    ws.terminate();
  });

  it('closes only the connection that sends a frame over the payload limit', async () => {
    const { ws, closed } = await rawClient(
      srv.url,
      await signToken({ userId: 'big', organizationId: 'o1' }),
    );
    ws.send(`42["ping",${JSON.stringify('x'.repeat(64 * 1024))}]`);
    await closed;
    await stillHealthy();
  });

  it('a socket.io-client emitting an oversized payload is dropped, others continue', async () => {
    const { socket } = await connect(
      srv.url,
      await signToken({ userId: 'big2', organizationId: 'o1' }),
    );
    const gone = new Promise<string>((r) => socket.once('disconnect', r));
    (socket.emit as (...a: unknown[]) => void)('subscribe', { channel: 'x'.repeat(40 * 1024) });
    expect(await gone).toMatch(/transport (close|error)/);
    await stillHealthy();
  });
});
