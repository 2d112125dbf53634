import { createHmac } from 'node:crypto';

/** The body POSTed to the escalation webhook (§12.7): ids and counts only, never alert text. */
export interface EscalationBody {
  alertId: string;
  organizationId: string;
  kind: string;
  severity: string;
  createdAt: string;
  targeted: number;
  delivered: number;
  acknowledged: number;
  escalatedAt: string;
}

export interface AttemptResult {
  ok: boolean;
  /** The HTTP status code when the receiver answered. */
  statusCode?: number;
  /** Why no answer came: `timeout`, a socket error code (`ECONNREFUSED`, …) or an error name. */
  errorClass?: string;
  durationMs: number;
}

/** `sha256=<hex HMAC-SHA256 of the raw body>` with the shared secret. */
export function signBody(secret: Uint8Array, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The class of a failed fetch: never its message (which may carry the URL). */
export function errorClass(err: unknown): string {
  const e = err as { name?: unknown; cause?: { code?: unknown; name?: unknown } } | undefined;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  const code = e?.cause?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code;
  const causeName = e?.cause?.name;
  if (typeof causeName === 'string' && /^[A-Za-z]{1,40}$/.test(causeName)) return causeName;
  return typeof e?.name === 'string' && /^[A-Za-z]{1,40}$/.test(e.name) ? e.name : 'Error';
}

/**
 * One attempt: POST the raw body with its signature and the delivery id. A 2xx is success;
 * anything else (3xx is not followed), a timeout or a socket error is a failure to retry.
 * The response body is never read.
 */
export async function postEscalation(options: {
  url: string;
  secret: Uint8Array;
  body: string;
  deliveryId: string;
  timeoutMs: number;
}): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'WhiteCross-Realtime-Escalation/1',
        'x-whitecross-signature': signBody(options.secret, options.body),
        'x-whitecross-delivery': options.deliveryId,
      },
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    await res.body?.cancel().catch(() => undefined);
    return {
      ok: res.status >= 200 && res.status < 300,
      statusCode: res.status,
      durationMs: elapsed(),
    };
  } catch (err) {
    return { ok: false, errorClass: errorClass(err), durationMs: elapsed() };
  }
}

/** Backoff before attempt n+1 after n failed attempts: 1 s doubling, at most 5 min. */
export function backoffMs(failedAttempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, Math.min(failedAttempts - 1, 20)));
}
