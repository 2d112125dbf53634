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
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const served = await new Promise<import('ws').WebSocket>((r) => wss.once('connection', r));
    try {
      expect(checkWebSocket(served as never)).toEqual([]);
      expect(checkWebSocket({})).toEqual([
        expect.stringContaining('bufferedAmount'),
        expect.stringContaining('cork'),
      ]);
    } finally {
      client.terminate();
      await new Promise((r) => wss.close(r));
    }
  });
});
