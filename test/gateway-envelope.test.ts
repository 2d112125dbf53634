import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeAll,
  connect,
  rawRequest,
  request,
  waitFor,
  type TestSocket,
} from './support/client.js';
import { useServer } from './support/server.js';
import { signToken } from './support/tokens.js';

describe('ack envelope, error event, validation and channel rules', () => {
  const srv = useServer();
  let socket: TestSocket;
  let comm: TestSocket;
  beforeAll(async () => {
    const token = await signToken({ userId: 'nurse-1', organizationId: 'school-1', role: 'nurse' });
    socket = (await connect(srv.url, token)).socket;
    comm = (await connect(srv.url, token, { namespace: '/communication' })).socket;
  });
  afterAll(async () => {
    closeAll(socket, comm);
  });

  it('answers ping with exactly {ok, data} and pong without an ack', async () => {
    const res = await request(socket, 'ping');
    expect(Object.keys(res).sort()).toEqual(['data', 'ok']);
    expect(res.ok && res.data.pong).toBe(true);
    expect(res.ok && new Date(res.data.serverTime).toISOString()).toBe(
      res.ok && res.data.serverTime,
    );
    const pong = waitFor(socket, 'pong');
    socket.emit('ping');
    expect(typeof (await pong).serverTime).toBe('string');
    // /communication serves ping too.
    expect((await request(comm, 'ping')).ok).toBe(true);
  });

  it('emits failures as an error event when there is no ack', async () => {
    const err = waitFor(socket, 'error');
    (socket.emit as (...a: unknown[]) => void)('subscribe', { channel: 'org:other-school' });
    const e = await err;
    expect(e).toMatchObject({ type: 'AUTHORIZATION_FAILED', event: 'subscribe' });
    expect(Object.keys(e).sort()).toEqual(['event', 'message', 'timestamp', 'type']);
  });

  it('acks failures as {ok: false, error} with only the allowed keys', async () => {
    const res = await rawRequest(socket, 'subscribe', { channel: 'org:other-school' });
    expect(Object.keys(res).sort()).toEqual(['error', 'ok']);
    expect(res.ok).toBe(false);
  });

  it('validates with whitelisting and dotted details, never echoing the value', async () => {
    const marker = 'SECRET-PAYLOAD-MARKER';
    const res = await rawRequest(socket, 'subscribe', {
      channel: 'org:school-1',
      [marker]: marker,
    });
    expect(res).toMatchObject({
      ok: false,
      error: { type: 'VALIDATION_ERROR', event: 'subscribe' },
    });
    expect(!res.ok && res.error.details).toEqual(
      [{ field: marker, constraints: ['whitelistValidation'] }].map((d) => ({
        ...d,
        field: marker,
      })),
    );
    expect(JSON.stringify(res).split(marker).length - 1).toBe(1); // the field name only, never the value
    const wrongType = await rawRequest(socket, 'subscribe', { channel: 42 });
    expect(!wrongType.ok && wrongType.error.details).toEqual([
      { field: 'channel', constraints: expect.arrayContaining(['isString']) as unknown },
    ]);
    const notObject = await rawRequest(socket, 'subscribe', 'org:school-1');
    expect(!notObject.ok && notObject.error.details).toEqual([
      { field: '$', constraints: ['isObject'] },
    ]);
  });

  it('refuses payloads deeper than 8 levels and prototype keys', async () => {
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 9; i++) deep = { a: deep };
    const tooDeep = await rawRequest(socket, 'subscribe', { channel: 'org:school-1', deep });
    expect(!tooDeep.ok && tooDeep.error).toMatchObject({
      type: 'VALIDATION_ERROR',
      details: [{ field: '$', constraints: ['maxDepth'] }],
    });
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      // Build the JSON by hand: an object literal would set the prototype instead of a key.
      const payload = JSON.parse(`{"channel":"org:school-1","${key}":{"admin":true}}`) as unknown;
      const res = await rawRequest(socket, 'subscribe', payload);
      expect(!res.ok && res.error).toMatchObject({
        type: 'VALIDATION_ERROR',
        details: [{ field: '$', constraints: ['forbiddenKey'] }],
      });
    }
  });

  it('subscribe: own org, own org topics and own user channel; refuses others', async () => {
    for (const channel of ['org:school-1', 'org:school-1:drills', 'user:nurse-1']) {
      expect(await request(socket, 'subscribe', { channel })).toEqual({
        ok: true,
        data: { channel },
      });
    }
    const cases: Array<[string, string]> = [
      ['org:school-2', 'AUTHORIZATION_FAILED'],
      ['org:school-2:drills', 'AUTHORIZATION_FAILED'],
      ['user:nurse-2', 'AUTHORIZATION_FAILED'],
      ['org:school-1:role', 'AUTHORIZATION_FAILED'],
      ['org:school-1:role:nurse', 'VALIDATION_ERROR'],
      ['org:school-1:Bad_Topic', 'VALIDATION_ERROR'],
      ['conversation:abc', 'VALIDATION_ERROR'],
      ['', 'VALIDATION_ERROR'],
    ];
    for (const [channel, type] of cases) {
      const res = await request(socket, 'subscribe', { channel });
      expect(!res.ok && res.error.type, channel).toBe(type);
    }
  });

  it('unsubscribe: leaves topics; automatic rooms answer BAD_REQUEST before the pattern', async () => {
    expect(await request(socket, 'unsubscribe', { channel: 'org:school-1:drills' })).toEqual({
      ok: true,
      data: { channel: 'org:school-1:drills' },
    });
    for (const channel of ['user:nurse-1', 'org:school-1', 'org:school-1:role:nurse']) {
      const res = await request(socket, 'unsubscribe', { channel });
      expect(!res.ok && res.error.type, channel).toBe('BAD_REQUEST');
    }
  });

  it('answers unknown events and events another namespace serves with BAD_REQUEST', async () => {
    const unknown = await rawRequest(socket, 'no:such-event', {});
    expect(!unknown.ok && unknown.error).toMatchObject({
      type: 'BAD_REQUEST',
      event: 'no:such-event',
    });
    const wrongNs = await rawRequest(comm, 'subscribe', { channel: 'org:school-1' });
    expect(!wrongNs.ok && wrongNs.error.type).toBe('BAD_REQUEST');
    const err = waitFor(comm, 'error');
    (comm.emit as (...a: unknown[]) => void)('presence:update', { status: 'away' });
    expect((await err).type).toBe('BAD_REQUEST');
  });
});
