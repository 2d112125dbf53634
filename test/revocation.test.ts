import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeAll,
  connect,
  connectError,
  ok,
  request,
  settle,
  type TestSocket,
} from './support/client.js';
import { http } from './support/http.js';
import { auditText, connectReady } from './support/realtime.js';
import { useServer } from './support/server.js';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  createTestDatabase,
  hasPostgres,
  hasRedis,
  redisPrefix,
  REDIS_TEST_URL,
} from './support/services.js';
import { signToken } from './support/tokens.js';
import { eventually } from './support/wait.js';
import { revocations } from '../src/persistence/schema.js';

const nowSec = () => Math.floor(Date.now() / 1000);

function disconnected(socket: TestSocket): Promise<string> {
  return new Promise((resolve) => {
    if (socket.disconnected) resolve('already');
    socket.once('disconnect', (reason) => resolve(reason));
  });
}

describe('session revocation', () => {
  const srv = useServer();
  const open: TestSocket[] = [];
  afterAll(async () => {
    closeAll(...open);
  });

  it('drops every session of the user in both namespaces and refuses the old token afterwards', async () => {
    const admin = await signToken({ userId: 'v-admin', organizationId: 'vA', role: 'admin' });
    const victim = await connectReady(
      srv.url,
      { userId: 'v-user', organizationId: 'vA', role: 'nurse' },
      ['auth:expired'],
    );
    const victim2 = await connectReady(
      srv.url,
      { userId: 'v-user', organizationId: 'vA', role: 'nurse' },
      ['auth:expired'],
    );
    const comm = await connect(srv.url, victim.token, {
      namespace: '/communication',
      record: ['auth:expired'],
    });
    const bystander = await connectReady(srv.url, { userId: 'v-other', organizationId: 'vA' }, [
      'auth:expired',
    ]);
    open.push(victim.socket, victim2.socket, comm.socket, bystander.socket);
    const closed = [victim, victim2, comm].map((c) => disconnected(c.socket));

    const res = await http<{ disconnected: number }>(srv.url, 'POST', '/api/v1/sessions/revoke', {
      token: admin,
      body: { userId: 'v-user' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ disconnected: 3, nodes: { confirmed: 1, unreachable: 0 } });
    expect(await Promise.all(closed)).toEqual([
      'io server disconnect',
      'io server disconnect',
      'io server disconnect',
    ]);
    for (const c of [victim, victim2, comm]) {
      const [expired] = c.recorder.of('auth:expired');
      expect(expired.type).toBe('AUTHENTICATION_FAILED');
      expect(expired.message.toLowerCase()).toContain('revoked');
    }
    await settle(bystander.socket);
    expect(bystander.socket.connected).toBe(true);
    expect(bystander.recorder.of('auth:expired')).toEqual([]);

    // the old token, a token without iat, and one issued in the revocation second are refused
    for (const ns of ['/', '/communication'] as const) {
      const err = await connectError(srv.url, victim.token, { namespace: ns });
      expect(err.message).toBe('AUTHENTICATION_FAILED');
      expect(err.data?.type).toBe('AUTHENTICATION_FAILED');
    }
    expect(
      (
        await connectError(
          srv.url,
          await signToken({ userId: 'v-user', organizationId: 'vA', iat: null }),
        )
      ).message,
    ).toBe('AUTHENTICATION_FAILED');

    // the boundary: iat equal to the revocation second is refused, the next second is accepted
    const [row] = await srv.database.db
      .select()
      .from(revocations)
      .where(and(eq(revocations.organizationId, 'vA'), eq(revocations.userId, 'v-user')));
    const revokedSec = Math.floor(new Date(row.revokedAt).getTime() / 1000);
    const atSecond = await signToken({ userId: 'v-user', organizationId: 'vA', iat: revokedSec });
    expect((await connectError(srv.url, atSecond)).message).toBe('AUTHENTICATION_FAILED');
    const nextSecond = await signToken({
      userId: 'v-user',
      organizationId: 'vA',
      iat: revokedSec + 1,
    });
    const okNext = await connect(srv.url, nextSecond);
    okNext.socket.close();

    // a token issued after the revocation second works; refreshing it with the old one does not
    const fresh = await signToken({
      userId: 'v-user',
      organizationId: 'vA',
      role: 'nurse',
      iat: nowSec() + 1,
    });
    const back = await connect(srv.url, fresh);
    open.push(back.socket);
    const refresh = await request(back.socket, 'auth:refresh', { token: victim.token });
    expect(refresh.ok ? null : refresh.error.type).toBe('AUTHENTICATION_FAILED');
    expect((await ok(back.socket, 'ping')).pong).toBe(true);

    expect(await auditText(srv.database.db as never)).toContain('session.revoked');
  });

  it('a revoked admin or service token is refused by the HTTP API too; admins revoke own members only', async () => {
    const service = await signToken({ userId: 'v-svc', organizationId: 'vZ', role: 'service' });
    const admin2 = await signToken({ userId: 'v-admin2', organizationId: 'vA', role: 'admin' });
    const ok1 = await http(srv.url, 'POST', '/api/v1/sessions/revoke', {
      token: admin2,
      body: { userId: 'v-other' },
    });
    expect(ok1.status).toBe(200);
    const r = await http(srv.url, 'POST', '/api/v1/sessions/revoke', {
      token: service,
      body: { userId: 'v-admin2', organizationId: 'vA' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ disconnected: 0, nodes: { confirmed: 1, unreachable: 0 } });
    const refused = await http(srv.url, 'POST', '/api/v1/sessions/revoke', {
      token: admin2,
      body: { userId: 'v-other' },
    });
    expect(refused.status).toBe(401);
    const foreignAdmin = await signToken({
      userId: 'v-badmin',
      organizationId: 'vB',
      role: 'admin',
    });
    const cross = await http(srv.url, 'POST', '/api/v1/sessions/revoke', {
      token: foreignAdmin,
      body: { userId: 'v-user' },
    });
    expect(cross.status).toBe(403);
  });
});

describe.skipIf(!hasPostgres())('session revocation across two nodes on one PostgreSQL', () => {
  // One database for both nodes: created before and dropped after both servers.
  let databaseUrl: string;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await createTestDatabase('revoke');
    databaseUrl = db.url;
    drop = db.drop;
  });
  afterAll(() => drop?.());
  const a = useServer(() => ({ databaseUrl }));
  const b = useServer(() => ({ databaseUrl }));

  it('without Redis, the other node enforces a revocation within its once-a-second re-read', async () => {
    const token = await signToken({ userId: 'x-user', organizationId: 'xA' });
    const first = await connect(b.url, token); // node B has now read the revocations table
    first.socket.close();
    const service = await signToken({ userId: 'x-svc', organizationId: 'xA', role: 'service' });
    const res = await http(a.url, 'POST', '/api/v1/sessions/revoke', {
      token: service,
      body: { userId: 'x-user' },
    });
    expect(res.status).toBe(200);
    // Without Redis the nodes do not know each other: B learns from its once-a-second re-read.
    expect(res.body).toEqual({ disconnected: 0, nodes: { confirmed: 1, unreachable: 0 } });
    const started = Date.now();
    await eventually(
      async () => {
        try {
          const c = await connect(b.url, token);
          c.socket.close();
          return false;
        } catch (err) {
          // Refused for the revocation, not for anything else.
          expect((err as Error).message).toBe('AUTHENTICATION_FAILED');
          return true;
        }
      },
      3000,
      'node B refusing the revoked token',
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

/**
 * The revoking node tells the others over Redis after its commit; meanwhile their once-a-second
 * re-read may already have found the row and dropped the sockets. The count in the answer must
 * still include them: CI saw `disconnected: 2` for three dropped sockets. Here the test is the
 * revoking node: it commits the row, waits until the server's re-read has dropped the victim,
 * then sends the revocation over the bus as a node does. The old code answered 0.
 */
describe.skipIf(!hasPostgres() || !hasRedis())(
  'revocation count when the re-read comes first',
  () => {
    const prefix = redisPrefix('revcount');
    const srv = useServer(
      { env: { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: prefix } },
      { postgres: 'revcount' },
    );

    it('the bus answer counts the sockets the re-read already dropped for that revocation', async () => {
      const org = `rc-${Date.now()}`;
      const token = await signToken({ userId: 'victim', organizationId: org });
      const victim = await connect(srv.url, token);
      const other = await connect(srv.url, token, { namespace: '/communication' });
      const closed = [disconnected(victim.socket), disconnected(other.socket)];

      const db = new pg.Client({ connectionString: srv.config.databaseUrl });
      await db.connect();
      const sub = new Redis(REDIS_TEST_URL, { lazyConnect: true });
      const pub = new Redis(REDIS_TEST_URL, { lazyConnect: true });
      try {
        const { rows } = await db.query<{ sec: string }>(
          `INSERT INTO revocations (organization_id, user_id, revoked_at) VALUES ($1, $2, now())
         RETURNING floor(extract(epoch FROM revoked_at))::bigint AS sec`,
          [org, 'victim'],
        );
        const sec = Number(rows[0].sec);
        // The server's re-read (no bus message yet) drops both sockets.
        expect(await Promise.all(closed)).toEqual(['io server disconnect', 'io server disconnect']);

        await sub.connect();
        await pub.connect();
        const replyChannel = `${prefix}revocation:reply:test-peer`;
        await sub.subscribe(replyChannel);
        const reply = new Promise<{ node: string; disconnected: number }>((resolve) =>
          sub.on('message', (channel: string, raw: string) => {
            if (channel === replyChannel) resolve(JSON.parse(raw) as never);
          }),
        );
        await pub.publish(
          `${prefix}revocation`,
          JSON.stringify({
            id: 'r1',
            from: 'test-peer',
            organizationId: org,
            userId: 'victim',
            sec,
          }),
        );
        expect((await reply).disconnected).toBe(2);
      } finally {
        sub.disconnect();
        pub.disconnect();
        await db.end();
      }
    });
  },
);
