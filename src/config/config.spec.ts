import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_RATE_LIMITS, loadConfig, parseRateLimits } from './config.js';

const base = { DATA_DIR: '/tmp/wcr-config-spec', JWT_SECRET: 'dev-secret' };

describe('loadConfig', () => {
  it('applies the development defaults of §2', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(3000);
    expect(c.corsOrigins).toEqual(['http://localhost:5173']);
    expect(c.ws).toMatchObject({
      allowQueryToken: true,
      maxConnectionsPerUser: 10,
      maxBufferedBytes: 1048576,
      maxPayloadBytes: 65536,
      pingIntervalMs: 25000,
      pingTimeoutMs: 60000,
    });
    expect(c.jwt.clockToleranceSec).toBe(30);
    expect(c.alertResendIntervalMs).toBe(60000);
    expect(c.logLevel).toBe('info');
    expect(c.redis).toBeUndefined();
    expect(c.databaseUrl).toBeUndefined();
    expect(c.rateLimits).toEqual(DEFAULT_RATE_LIMITS);
  });

  it('uses JWT_SECRET as UTF-8 bytes', () => {
    const c = loadConfig({ ...base, JWT_SECRET: 'é-secret' });
    expect(Buffer.from(c.jwt.secret!).toString('utf8')).toBe('é-secret');
  });

  it('production defaults: no query token', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: 'x'.repeat(32),
      CORS_ORIGIN: 'https://a.example',
      DATABASE_URL: 'postgres://x@h/db',
      REDIS_URL: 'redis://h:6379',
    });
    expect(c.ws.allowQueryToken).toBe(false);
    expect(c.demoEnabled).toBe(false);
  });

  it('reads REDIS_HOST/PORT/USERNAME/PASSWORD', () => {
    const c = loadConfig({
      ...base,
      REDIS_HOST: 'cache',
      REDIS_PORT: '6380',
      REDIS_USERNAME: 'u',
      REDIS_PASSWORD: 'p',
    });
    expect(c.redis).toMatchObject({ host: 'cache', port: 6380, username: 'u', password: 'p' });
  });

  it('names the variable in every refusal', () => {
    expect(() => loadConfig({ ...base, PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ ...base, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
    expect(() => loadConfig({ ...base, WS_ALLOW_QUERY_TOKEN: 'maybe' })).toThrow(
      /WS_ALLOW_QUERY_TOKEN/,
    );
    expect(() => loadConfig({ ...base, DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ ...base, JWT_PUBLIC_KEY: 'not a pem' })).toThrow(ConfigError);
  });
});

describe('parseRateLimits', () => {
  it('overrides one event and keeps the rest', () => {
    const l = parseRateLimits('{"message:send":{"maxTokens":2,"refillIntervalMs":1000}}');
    expect(l['message:send']).toEqual({ maxTokens: 2, refillIntervalMs: 1000 });
    expect(l['message:typing']).toEqual(DEFAULT_RATE_LIMITS['message:typing']);
  });
  it('accepts a partial override of one field', () => {
    expect(parseRateLimits('{"default":{"maxTokens":5}}').default).toEqual({
      maxTokens: 5,
      refillIntervalMs: 100,
    });
  });
  it('refuses unknown keys, unknown fields, non-integers and arrays', () => {
    for (const bad of [
      '[]',
      '{"x":{}}',
      '{"default":{"max":1}}',
      '{"default":{"maxTokens":1.5}}',
      '{"default":3}',
      'nope',
    ]) {
      expect(() => parseRateLimits(bad)).toThrow(/RATE_LIMITS/);
    }
  });
});

describe('alert escalation (§12.7)', () => {
  const prod = {
    NODE_ENV: 'production',
    JWT_SECRET: 'x'.repeat(32),
    CORS_ORIGIN: 'https://a.example',
    DATABASE_URL: 'postgres://x@h/db',
    REDIS_URL: 'redis://h:6379',
  };
  const fails = (env: Record<string, string>, variable: string) => {
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).not.toContain('\n');
  };

  it('is off without a URL; the deadline defaults to 120000 ms and the attempt timeout to 5 s', () => {
    expect(loadConfig(base).alertEscalation).toBeUndefined();
    const c = loadConfig({
      ...base,
      ALERT_ESCALATION_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      ALERT_ESCALATION_SECRET: 's',
    });
    expect(c.alertEscalation).toMatchObject({
      webhookUrl: 'http://127.0.0.1:9/hook',
      afterMs: 120000,
      attemptTimeoutMs: 5000,
    });
    expect(Buffer.from(c.alertEscalation!.secret).toString('utf8')).toBe('s');
  });

  it('refuses bad values with one line naming the variable', () => {
    const url = { ALERT_ESCALATION_WEBHOOK_URL: 'https://pager.example/h' };
    fails({ ...base, ...url }, 'ALERT_ESCALATION_SECRET');
    fails(
      { ...base, ALERT_ESCALATION_WEBHOOK_URL: 'not a url', ALERT_ESCALATION_SECRET: 's' },
      'ALERT_ESCALATION_WEBHOOK_URL',
    );
    fails(
      { ...base, ALERT_ESCALATION_WEBHOOK_URL: 'ftp://h/x', ALERT_ESCALATION_SECRET: 's' },
      'ALERT_ESCALATION_WEBHOOK_URL',
    );
    fails(
      { ...base, ALERT_ESCALATION_WEBHOOK_URL: 'https://u:p@h/x', ALERT_ESCALATION_SECRET: 's' },
      'ALERT_ESCALATION_WEBHOOK_URL',
    );
    fails({ ...base, ALERT_ESCALATION_AFTER_MS: 'soon' }, 'ALERT_ESCALATION_AFTER_MS');
    fails({ ...base, ALERT_ESCALATION_AFTER_MS: '5' }, 'ALERT_ESCALATION_AFTER_MS');
    fails(
      { ...base, ALERT_ESCALATION_ATTEMPT_TIMEOUT_MS: '-1' },
      'ALERT_ESCALATION_ATTEMPT_TIMEOUT_MS',
    );
    // production: https only, a secret of at least 32 bytes
    fails(
      {
        ...prod,
        ALERT_ESCALATION_WEBHOOK_URL: 'http://pager.example/h',
        ALERT_ESCALATION_SECRET: 'k'.repeat(32),
      },
      'ALERT_ESCALATION_WEBHOOK_URL',
    );
    fails({ ...prod, ...url, ALERT_ESCALATION_SECRET: 'k'.repeat(31) }, 'ALERT_ESCALATION_SECRET');
    expect(
      loadConfig({ ...prod, ...url, ALERT_ESCALATION_SECRET: 'k'.repeat(32) }).alertEscalation
        ?.webhookUrl,
    ).toBe('https://pager.example/h');
  });
});
