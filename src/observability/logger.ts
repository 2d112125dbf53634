import type { LoggerService } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';
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

/**
 * JSON lines for machines, or pino-pretty's one line per entry for a developer's terminal:
 * LOG_FORMAT forces either; by default pretty only when stdout is a terminal outside production
 * (a pipe, a container log or a test always gets JSON).
 */
export function resolveLogFormat(
  config: Pick<AppConfig, 'logFormat' | 'isProduction'>,
  isTty = process.stdout.isTTY === true,
): 'json' | 'pretty' {
  if (config.logFormat !== 'auto') return config.logFormat;
  return isTty && !config.isProduction ? 'pretty' : 'json';
}

/** Keys the pretty format leaves out of the line (request details are in the message). */
const PRETTY_IGNORE = 'pid,hostname,node,context,req,res,responseTime,config,url,demoUrl,port';

function prettyStream(): DestinationStream {
  // Loaded only when used: a JSON-logging (production) node never imports pino-pretty.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pretty({
    sync: true,
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: PRETTY_IGNORE,
    messageFormat: '{if context}[{context}] {end}{msg}',
    singleLine: true,
  });
}

export function pinoParams(config: AppConfig, destination?: DestinationStream): Params {
  const format = destination ? 'json' : resolveLogFormat(config);
  const out = destination ?? (format === 'pretty' ? prettyStream() : undefined);
  const url = (req: { url?: string }) =>
    typeof req.url === 'string' ? req.url.split('?')[0] : undefined;
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
            url: url(req),
          }),
          res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        },
        // `context: 'http'` on the request-completed line only: bound to the request's logger
        // (customProps) it would repeat the key in every line a service logs during the request
        // (`"context":"http","context":"notifications"`).
        customSuccessObject: (_req: unknown, _res: unknown, val: object) => ({
          ...val,
          context: 'http',
        }),
        customErrorObject: (_req: unknown, _res: unknown, _err: unknown, val: object) => ({
          ...val,
          context: 'http',
        }),
        ...(format === 'pretty'
          ? {
              customSuccessMessage: (
                req: { method?: string; url?: string },
                res: { statusCode: number },
                ms: number,
              ) => `${req.method} ${url(req)} ${res.statusCode} ${Math.round(ms)} ms`,
            }
          : {}),
      },
      out,
    ].filter((x) => x !== undefined) as Params['pinoHttp'],
  };
}

export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/** Nest's own start-up chatter (one line per module, route and gateway): debug, not info. */
const NEST_STARTUP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'WebSocketsController',
  'NestApplication',
]);

/** Nest's logger with its per-module start-up lines moved to debug; everything else unchanged. */
export class QuietStartupLogger implements LoggerService {
  constructor(private readonly inner: LoggerService) {}

  log(message: unknown, ...params: unknown[]): void {
    const context = params[params.length - 1];
    if (typeof context === 'string' && NEST_STARTUP_CONTEXTS.has(context)) {
      this.inner.debug?.(message, ...params);
    } else {
      this.inner.log(message, ...params);
    }
  }
  error(message: unknown, ...params: unknown[]): void {
    this.inner.error(message, ...params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.inner.warn(message, ...params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.inner.debug?.(message, ...params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.inner.verbose?.(message, ...params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.inner.fatal?.(message, ...params);
  }
}
