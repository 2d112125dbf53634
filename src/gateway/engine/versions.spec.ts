import { describe, expect, it } from 'vitest';
import {
  checkEngineInternals,
  installedVersion,
  versionMismatches,
  WRITTEN_FOR,
} from './versions.js';
import { checkWebSocket } from './ws-corking.js';

describe('engine internals and versions checked at start', () => {
  it('reads the installed versions from the packages this process loads', () => {
    expect(installedVersion('engine.io')).toMatch(/^\d+\.\d+\.\d+/);
    expect(installedVersion('socket.io-adapter')).toMatch(/^\d+\.\d+\.\d+/);
    expect(installedVersion('ws')).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the pinned packages are the versions the tweaks were written for, with their internals', () => {
    expect(versionMismatches()).toEqual([]);
    expect(installedVersion('engine.io')).toBe(WRITTEN_FOR['engine.io']);
    expect(checkEngineInternals()).toEqual([]);
  });

  it('a websocket without the fields the tweaks read is reported, a real one is not', async () => {
    const { WebSocketServer, WebSocket } = await import('ws');
    const wss = new WebSocketServer({ port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const { port } = wss.address() as { port: number };
    const served = new Promise<import('ws').WebSocket>((r) => wss.once('connection', r));
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    client.on('error', () => undefined);
    await new Promise((r) => client.once('open', r));
    const reported: string[] = [];
    try {
      expect(checkWebSocket((await served) as never, (p) => reported.push(p))).toEqual([]);
      expect(reported).toEqual([]);
      const missing = [expect.stringContaining('bufferedAmount'), expect.stringContaining('cork')];
      expect(checkWebSocket({}, (p) => reported.push(p))).toEqual(missing);
      expect(reported).toEqual(missing);
    } finally {
      client.close();
      await new Promise((r) => wss.close(r));
    }
  });
});
