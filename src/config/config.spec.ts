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
