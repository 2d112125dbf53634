import type { RealtimeClient } from '@white-cross/realtime-client';

/**
 * Resolves when `pred` holds, re-checked on every event the SDK client emits (so a short-lived
 * state is not missed between polls), plus a slow poll for state read off the socket.
 */
export function until(
  client: RealtimeClient,
  pred: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const offs: Array<() => void> = [];
    const done = (err?: Error) => {
      clearTimeout(timer);
      clearInterval(poll);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      if (pred()) done();
    };
    const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const poll = setInterval(check, 50);
    offs.push(
      client.on('client:state', check),
      client.on('message:new', check),
      client.on('client:synced', check),
    );
  });
}
