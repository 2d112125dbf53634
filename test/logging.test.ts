import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeAll, connect, connectError, rawRequest, type TestSocket } from './support/client.js';
import { useServer } from './support/server.js';
import { signToken } from './support/tokens.js';

describe('PHI and tokens never reach a log line', () => {
  const srv = useServer({ env: { LOG_LEVEL: 'trace' } });
  let socket: TestSocket;
  let token: string;
  const MARKER = 'PHI-MARKER-7f3a9c';
  beforeAll(async () => {
    token = await signToken({ userId: 'nurse-log', organizationId: 'school-log', role: 'nurse' });
    socket = (await connect(srv.url, token)).socket;
  });
  afterAll(async () => {
    closeAll(socket);
  });

  it('logs events with ids and outcomes but no payload or token', async () => {
    await rawRequest(socket, 'subscribe', { channel: `org:school-log:${MARKER.toLowerCase()}` });
    await rawRequest(socket, 'subscribe', { channel: MARKER, [MARKER]: MARKER });
    await rawRequest(socket, 'auth:refresh', { token: `${MARKER}.${MARKER}.${MARKER}` });
    await rawRequest(socket, MARKER, { content: MARKER });
    await connectError(srv.url, `Bearer ${MARKER}`);
    await fetch(`${srv.url}/health?token=${MARKER}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    await fetch(`${srv.url}/nowhere?token=${MARKER}`, {
      method: 'POST',
      body: JSON.stringify({ content: MARKER }),
      headers: { 'content-type': 'application/json', Authorization: `Bearer ${token}` },
    });
    const all = srv.logs.join('\n');
    expect(srv.logs.length).toBeGreaterThan(5);
    expect(all).toContain('nurse-log'); // ids are logged…
    expect(all).not.toContain(MARKER); // …content is not
    expect(all.toLowerCase()).not.toContain(MARKER.toLowerCase());
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.split('.')[1]);
  });
});
