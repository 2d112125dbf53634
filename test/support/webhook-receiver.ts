/**
 * A real HTTP receiver for escalation webhooks on 127.0.0.1 (ephemeral port), recording every
 * request it gets. What it answers is decided per request: a status code, or `hang` (never
 * answers: the sender's attempt timeout fires).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  raw: string;
  body: Record<string, unknown>;
  deliveryId: string;
  /** What the receiver answered (a status) or `hang`. */
  answer: number | 'hang';
}

export type Answer = (req: { body: Record<string, unknown>; nth: number }) => number | 'hang';

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Per alert id; the default answers 200. `nth` counts this alert's requests from 1. */
  readonly answers = new Map<string, Answer>();
  private server?: Server;
  private waiters: Array<() => void> = [];
  port = 0;

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          // recorded as is
        }
        const alertId = String(body.alertId);
        const nth = this.requests.filter((r) => r.body.alertId === alertId).length + 1;
        const answer = (this.answers.get(alertId) ?? (() => 200))({ body, nth });
        this.requests.push({
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          raw,
          body,
          deliveryId: String(req.headers['x-whitecross-delivery']),
          answer,
        });
        for (const w of this.waiters) w();
        if (answer === 'hang') return;
        res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'no');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/escalation?key=receiver-key`;
  }

  for(alertId: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.body.alertId === alertId);
  }

  /** Waits until `predicate` holds over the recorded requests. */
  until(predicate: () => boolean, timeoutMs = 20_000, what = 'webhook requests'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${what}; got ${this.requests.length} requests`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** What a receiver does with `X-WhiteCross-Signature` (docs/operations.md shows the same). */
export function validSignature(secret: string, raw: string, header: unknown): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(raw).digest();
  const got = Buffer.from(header.slice('sha256='.length), 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export { eventually } from './wait.js';
