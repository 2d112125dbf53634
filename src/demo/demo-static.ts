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

/** The browser bundle shipped inside the installed socket.io-client package (never a committed copy). */
export function socketIoBundlePath(): string {
  const require = createRequire(import.meta.url);
  return join(
    dirname(require.resolve('socket.io-client/package.json')),
    'dist',
    'socket.io.min.js',
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
 * Development only: serves the demo page at `/` and the socket.io-client browser bundle at
 * `/vendor/socket.io.min.js`. Called from createApp when `config.demoEnabled`.
 */
export function installDemoStatic(app: INestApplication): boolean {
  const dir = demoWebDir();
  if (!dir) return false;
  const bundle = socketIoBundlePath();
  const setHeaders = (res: Response) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-cache');
  };
  app.use('/vendor/socket.io.min.js', (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    setHeaders(res);
    res.type('application/javascript').sendFile(bundle);
  });
  // Only existing files of web/ are served; anything else (API, health, Socket.IO) falls through.
  app.use(
    express.static(dir, { index: 'index.html', fallthrough: true, dotfiles: 'ignore', setHeaders }),
  );
  return true;
}
