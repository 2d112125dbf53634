import { describe, it } from 'vitest';
import { closeAll, connect, type TestSocket } from '../support/client.js';
import { hasPostgres, hasRedis } from '../support/services.js';
import {
  CAP,
  convergence,
  expectRunningWithoutCrash,
  liveSockets,
  slotsFree,
  useFaultCluster,
  statuses,
  token,
  TTL_MS,
} from './cluster.js';

/**
 * #12 point 3: sockets that closed while Redis was down used to come back as ghosts: the
 * disconnect hook read presence first, that threw, the session stayed in the node's own map, and
 * the write-back after the outage restored it. Now disconnects during an outage converge once
 * Redis returns — presence and connection slots alike.
 */
describe.skipIf(!(hasRedis() && hasPostgres()))('fault: sockets close while Redis is down', () => {
  const cluster = useFaultCluster('fredisdown');
  const open = cluster.open;

  it(`no ghost and no held slot within 2 × REDIS_NODE_TTL_MS (${2 * TTL_MS} ms) of Redis returning`, async () => {
    const org = `rdown-${Date.now().toString(36)}`;
    const [n1, n2, n3] = cluster.nodes;
    const observer = await connect(n2.url, await token(org, 'observer'));
    open.push(observer.socket);
    const leaverToken = await token(org, 'leaver');
    const leaver: TestSocket[] = [];
    for (let i = 0; i < CAP; i++)
      leaver.push((await connect(i === 0 ? n3.url : n1.url, leaverToken)).socket);
    const other = (await connect(n1.url, await token(org, 'other'))).socket;
    const stayer = (await connect(n1.url, await token(org, 'stayer'))).socket;
    open.push(...leaver, other, stayer);
    await convergence('online first', Date.now(), 5000, async () => {
      const s = await statuses(observer.socket, ['leaver', 'other', 'stayer']);
      return Object.values(s).every((v) => v === 'online');
    });
    const before = await liveSockets(n1.url);

    await cluster.redis.down();
    // While Redis is down: every socket of `leaver` (two nodes) and `other` closes.
    closeAll(...leaver, other);
    await convergence('disconnects handled on node-1', Date.now(), 10_000, async () => {
      return (await liveSockets(n1.url)) === before - CAP;
    });
    await cluster.redis.up();
    const backAt = Date.now();

    const presenceMs = await convergence('no ghost', backAt, 2 * TTL_MS, async () => {
      const s = await statuses(observer.socket, ['leaver', 'other', 'stayer']);
      return s.leaver === 'offline' && s.other === 'offline' && s.stayer === 'online';
    });
    const slotsMs = await convergence('slots', backAt, 2 * TTL_MS + 3000, () =>
      slotsFree([n1.url, n2.url, n3.url], leaverToken, CAP),
    );
    expectRunningWithoutCrash(cluster.nodes);
    process.stdout.write(
      `redis down: after Redis returned presence converged ${presenceMs} ms, slots ${slotsMs} ms\n`,
    );
  }, 90_000);
});
