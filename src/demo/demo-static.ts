import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';

/**
 * `web/` next to the compiled code (`dist/web`, copied by `npm run build`) or, when running from
 * source (tests, tsx), the repository's `web/`.
 */
export function demoWebDir(): string | undefined {
  const here = import.meta.dirname;
  for (const dir of [
    join(here, '..', '..', 'web'),
    join(here, '..', '..', '..', 'web'),
    join(process.cwd(), 'web'),
  ]) {
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

/**
 * The SDK's browser bundle (`@white-cross/realtime-client/browser`: the SDK and socket.io-client
 * in one ES module), built by the package's `build` (never a committed copy).
 */
export function sdkBundlePath(): string {
  const require = createRequire(import.meta.url);
  return join(
    dirname(require.resolve('@white-cross/realtime-client/package.json')),
    'dist',
    'browser',
    'realtime-client.js',
  );
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Development only: serves the demo page at `/` and the SDK's browser bundle at
 * `/vendor/realtime-client.js` (+ its source map). Called from createApp when `config.demoEnabled`.
 */
export function installDemoStatic(app: INestApplication): boolean {
  const dir = demoWebDir();
  if (!dir) return false;
  const bundle = sdkBundlePath();
  const setHeaders = (res: Response) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
  };
  for (const [path, file, type] of [
    ['/vendor/realtime-client.js', bundle, 'application/javascript'],
    ['/vendor/realtime-client.js.map', `${bundle}.map`, 'application/json'],
  ] as const)
    app.use(path, (req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return next();
      if (req.path !== '/' || !existsSync(file)) return next();
      setHeaders(res);
      res.type(type).sendFile(file);
    });
  // Only existing files of web/ are served; anything else (API, health, Socket.IO) falls through.
  app.use(
    express.static(dir, { index: 'index.html', fallthrough: true, dotfiles: 'ignore', setHeaders }),
  );
  return true;
}
