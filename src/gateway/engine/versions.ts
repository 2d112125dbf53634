import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Socket as EngineSocket } from 'engine.io';
import { Adapter } from 'socket.io-adapter';

/**
 * The versions the engine-level code of this folder was written and measured against. It relies
 * on internals of these packages (see `checkEngineInternals`, and `checkWebSocket` in
 * ws-corking.ts for ws); an upgrade must re-run
 * test/delivery-guard, test/connect-storm-dedup, test/slow-consumer and test/ws-corking, then
 * move these numbers.
 */
export const WRITTEN_FOR = {
  'engine.io': '6.6.13',
  'socket.io-adapter': '2.5.9',
  ws: '8.23.0',
} as const;

type Package = keyof typeof WRITTEN_FOR;

/** The installed version, read from the package.json of the copy this process loads. */
export function installedVersion(name: Package): string {
  let require = createRequire(import.meta.url);
  // ws: the copy engine.io loads (its dependency), not whatever this package would resolve.
  if (name === 'ws') require = createRequire(require.resolve('engine.io'));
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === name && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this directory
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`${name}: package.json not found`);
    dir = up;
  }
}

/** Installed versions that differ from WRITTEN_FOR, as readable lines (empty when all match). */
export function versionMismatches(): string[] {
  return (Object.keys(WRITTEN_FOR) as Package[])
    .map((name) => ({ name, installed: installedVersion(name) }))
    .filter(({ name, installed }) => installed !== WRITTEN_FOR[name])
    .map(
      ({ name, installed }) =>
        `${name} ${installed} is installed; the engine tweaks (src/gateway/engine/) were written for ${WRITTEN_FOR[name]}`,
    );
}

const isFunction = (v: unknown): v is (...args: unknown[]) => unknown => typeof v === 'function';

/**
 * The internals the folder depends on, checked at start; a failure refuses to start, since the
 * §12.4 guard or the slow-consumer drop would otherwise stop working without a sign:
 * - socket.io-adapter's `broadcast` encodes through `this._encode` and then walks the sockets
 *   through `this.apply` (delivery-guard.ts hooks both on each adapter);
 * - engine.io's Socket emits `packetCreate` before it queues a packet (engine-hooks.ts), and its
 *   flush skips a transport that is not writable and emits the server's `flush` event before the
 *   transport writes (deferred-flush.ts, ws-corking.ts).
 */
export function checkEngineInternals(): string[] {
  const problems: string[] = [];
  const adapter = Adapter.prototype as unknown as Record<string, unknown>;
  const broadcast = adapter.broadcast;
  if (!isFunction(adapter._encode) || !isFunction(adapter.apply) || !isFunction(broadcast))
    problems.push('socket.io-adapter: Adapter#_encode / #apply / #broadcast missing');
  else if (!/this\._encode\(/.test(String(broadcast)) || !/this\.apply\(/.test(String(broadcast)))
    problems.push('socket.io-adapter: Adapter#broadcast no longer goes through _encode and apply');
  const engineSocket = EngineSocket.prototype as unknown as Record<string, unknown>;
  const { sendPacket, flush } = engineSocket;
  if (!isFunction(sendPacket) || !isFunction(flush))
    problems.push('engine.io: Socket#sendPacket / #flush missing');
  else {
    // engine-hooks.ts: `packetCreate` is emitted before the packet is queued and flushed;
    // ws-corking.ts: the server's `flush` event comes before the transport writes; and
    // deferred-flush.ts: a flush does nothing while the transport is not writable.
    if (
      !/emit\("packetCreate"[\s\S]*writeBuffer\.push[\s\S]*this\.flush\(\)/.test(String(sendPacket))
    )
      problems.push('engine.io: Socket#sendPacket no longer emits packetCreate before queueing');
    const body = String(flush);
    if (
      !/transport\.writable/.test(body) ||
      !/server\.emit\("flush"[\s\S]*transport\.send\(/.test(body)
    )
      problems.push('engine.io: Socket#flush no longer checks writable / emits flush before send');
  }
  return problems;
}
