import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';

/** The client's address for a request (handshake or HTTP), as limits and logs must see it. */
export type ClientAddressOf = (req: IncomingMessage) => string;

/**
 * TRUST_PROXY (§12.3): for a connection from a trusted proxy the client address is the rightmost
 * untrusted address in `X-Forwarded-For` (proxy-addr walks the chain from the socket's peer
 * leftwards while the hop is trusted); from any other peer the header is ignored and the socket's
 * own address counts, so an untrusted client cannot spoof its way into another address's bucket.
 */
export function clientAddressOf(trustProxy: readonly string[]): ClientAddressOf {
  if (trustProxy.length === 0) return (req) => req.socket?.remoteAddress ?? 'unknown';
  const trust = proxyaddr.compile([...trustProxy]);
  return (req) => {
    try {
      return proxyaddr(req, trust);
    } catch {
      return req.socket?.remoteAddress ?? 'unknown';
    }
  };
}
