import type { IncomingMessage } from 'node:http';

/**
 * §3: a handshake whose Origin is present and neither allow-listed nor the request's own origin
 * (scheme + Host header) is refused at the HTTP level, before Socket.IO accepts it.
 */
export function isOriginAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origin === '') return true;
  const normalized = origin.replace(/\/$/, '').toLowerCase();
  if (allowed.some((a) => a.toLowerCase() === normalized)) return true;
  const host = req.headers.host;
  if (!host) return false;
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const own = `${encrypted ? 'https' : 'http'}://${host}`.toLowerCase();
  // ws:// and wss:// origins (some non-browser clients) mean the same host.
  const ownWs = own.replace(/^http/, 'ws');
  return normalized === own || normalized === ownWs;
}
