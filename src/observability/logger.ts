import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from '../config/config.js';

/**
 * PHI and secrets never reach a log line: these paths are censored wherever they appear, request
 * URLs lose their query string, and the service code logs ids, counts and outcomes only.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'token',
  '*.token',
  'content',
  '*.content',
  'message.content',
  'body',
  '*.body',
  'title',
  '*.title',
  'metadata',
  '*.metadata',
  'data',
  'payload',
  '*.payload',
];

export function pinoParams(config: AppConfig, destination?: DestinationStream): Params {
  return {
    pinoHttp: [
      {
        level: config.logLevel,
        base: { node: config.nodeId },
        redact: { paths: REDACT_PATHS, censor: '[redacted]' },
        autoLogging: {
          ignore: (req: { url?: string }) =>
            req.url === '/health' || req.url === '/metrics' || req.url === '/ready',
        },
        serializers: {
          req: (req: { id: unknown; method: string; url: string }) => ({
            id: req.id,
            method: req.method,
            url: typeof req.url === 'string' ? req.url.split('?')[0] : undefined,
          }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        customProps: () => ({ context: 'http' }),
      },
      destination,
    ].filter((x) => x !== undefined) as Params['pinoHttp'],
  };
}

export const LOG_DESTINATION = Symbol('LOG_DESTINATION');
