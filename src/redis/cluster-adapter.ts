import {
  createAdapter as createPubSubAdapter,
  createShardedAdapter,
} from '@socket.io/redis-adapter';
import { createAdapter as createStreamsAdapter } from '@socket.io/redis-streams-adapter';
import type { Redis } from 'ioredis';
import type { Server, ServerOptions } from 'socket.io';
import type { RedisConfig } from '../config/config.js';
import type { RedisClient, RedisConnections } from './redis.connections.js';

/**
 * The adapters call `publish` without handling its promise: a publish that fails while Redis is
 * down would be an unhandled rejection, which ends a Node process. Wrap the publishing methods so
 * a failure is counted and dropped (the database replay covers what was missed, §10.2).
 */
export function swallowPublishFailures<C extends RedisClient>(
  client: C,
  onFailure: (err: Error) => void,
): C {
  for (const method of ['publish', 'spublish', 'xadd'] as const) {
    const original = (client[method] as (...a: unknown[]) => Promise<unknown>).bind(client);
    (client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const p = original(...args);
      p.catch((err: Error) => onFailure(err));
      return p;
    };
  }
  return client;
}

/** What `server.adapter()` takes: an adapter class, or a factory (the Redis adapters' `createAdapter`). */
export type AdapterFactory = NonNullable<ServerOptions['adapter']>;

export interface ClusterAdapterHandle {
  kind: RedisConfig['adapter'];
  /**
   * Sets the server's adapter to `wrap(the Redis adapter)`. The gateway passes the delivery
   * guard (`withDeliveryGuard`, src/gateway/engine/delivery-guard.ts; `finishEngine` refuses to
   * start with an unwrapped adapter): this folder stays below the gateway.
   */
  install(server: Pick<Server, 'adapter'>, wrap: (adapter: AdapterFactory) => AdapterFactory): void;
}

/**
 * Calls `onRecovered` once each time the adapter's link to Redis comes back after an outage: one
 * or more of its watched clients were ready, lost their connection, and every one of them that
 * was lost is ready again. The call waits for a PING on each recovered client (answered after
 * ioredis' re-subscriptions, which it sends first), so every event published after the call
 * reaches this node. One outage is one call however far apart its clients come back (a publisher
 * and a subscriber reconnect on their own backoff, seconds apart on a loaded node): the call
 * comes when the last of them is back, and again only after a new loss.
 */
export function adapterLinkWatcher(
  onRecovered: () => void,
  settleMs = 200,
): <C extends RedisClient>(client: C) => C {
  let timer: NodeJS.Timeout | undefined;
  /** Watched clients that lost their link and have not answered a PING since. */
  const down = new Set<RedisClient>();
  const fire = () => {
    timer = undefined;
    if (down.size === 0) onRecovered();
  };
  const settled = () => {
    if (down.size > 0) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(fire, settleMs);
    timer.unref();
  };
  return <C extends RedisClient>(client: C): C => {
    let wasReady = client.status === 'ready';
    let lost = false;
    const lose = () => {
      if (!wasReady) return;
      lost = true;
      down.add(client);
    };
    const back = () => {
      down.delete(client);
      settled();
    };
    const recovered = () => {
      if (!lost) return;
      lost = false;
      client.ping().then(back, back);
    };
    client.on('close', lose);
    client.on('ready', () => {
      wasReady = true;
      recovered();
    });
    // Cluster mode: a shard's master dies and its replica takes over while the Cluster client as
    // a whole stays ready. The sharded subscriber of that shard is dropped (`-node`) and made
    // again on the new master, which re-subscribes its channels and then says
    // `subscribersReady`: what the shard published in between was missed.
    // Not counted in `down`: a node may leave the pool for good (a replica), with no
    // `subscribersReady` of its own to wait for.
    client.on('-node', () => {
      if (wasReady) lost = true;
    });
    client.on('subscribersReady', recovered);
    return client;
  };
}

/**
 * Builds the Socket.IO cluster adapter on its own Redis clients. Publishing clients keep an
 * offline queue (a blip of < ~1 s loses nothing) with a bounded number of retries; after that,
 * broadcasts are dropped and counted, never thrown.
 */
export function clusterAdapter(
  connections: RedisConnections,
  onPublishFailure: (err: Error) => void,
  onLinkRecovered: () => void = () => undefined,
): ClusterAdapterHandle {
  const cfg = connections.config;
  const key = `${cfg.keyPrefix}socket.io`;
  const watch = adapterLinkWatcher(onLinkRecovered);
  return {
    kind: cfg.adapter,
    install(server, wrap) {
      if (cfg.adapter === 'streams') {
        // The streams adapter duplicates this client for its reader and subscriber; `attach` puts
        // listeners on the duplicates too (it adds its own no-op error listener as well).
        const client = swallowPublishFailures(
          connections.createSingle('adapter', { maxRetriesPerRequest: 3 }),
          onPublishFailure,
        );
        const duplicate = client.duplicate.bind(client);
        // The duplicates block on XREAD and subscribe: no command timeout for them.
        client.duplicate = (override?: Parameters<Redis['duplicate']>[0]) => {
          return watch(
            connections.attach(
              duplicate({ ...override, commandTimeout: undefined }),
              'adapter-reader',
            ),
          );
        };
        watch(client);
        server.adapter(
          wrap(
            createStreamsAdapter(client, { streamName: key, channelPrefix: key, maxLen: 10_000 }),
          ),
        );
        return;
      }
      if (cfg.adapter === 'sharded') {
        // Redis 7 sharded pub/sub: each channel lives on the shard that owns its slot and is not
        // copied to every cluster node. In `static` subscriptionMode (the default) every broadcast
        // of a namespace goes to its one channel `<prefix>socket.io#<nsp>#`, so one master carries
        // that namespace's adapter traffic; only `dynamic` moves single-room emits to per-room
        // channels (docs/scaling.md, subscriptionMode).
        const pub = swallowPublishFailures(
          connections.create('adapter-pub', { maxRetriesPerRequest: 3 }),
          onPublishFailure,
        );
        const sub = connections.create('adapter-sub', {
          maxRetriesPerRequest: null,
          commandTimeout: false,
          shardedSubscribers: true,
        });
        watch(pub);
        watch(sub);
        server.adapter(
          wrap(
            createShardedAdapter(pub, sub, {
              channelPrefix: key,
              subscriptionMode: cfg.shardedSubscriptionMode,
            }),
          ),
        );
        return;
      }
      const pub = swallowPublishFailures(
        connections.createSingle('adapter-pub', { maxRetriesPerRequest: 3 }),
        onPublishFailure,
      );
      const sub = connections.createSingle('adapter-sub', {
        maxRetriesPerRequest: null,
        commandTimeout: false,
      });
      watch(pub);
      watch(sub);
      server.adapter(
        wrap(
          createPubSubAdapter(pub, sub, {
            key,
            requestsTimeout: 3000,
            publishOnSpecificResponseChannel: true,
          }),
        ),
      );
    },
  };
}
