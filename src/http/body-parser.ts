import type { INestApplication } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppError, toErrorObject } from '../protocol/errors.js';

/**
 * A request that carries a body in anything but JSON (typically `curl -d '{…}'` without
 * `-H 'content-type: application/json'`, which sends a form type) answers 400 BAD_REQUEST saying
 * so, instead of parsing nothing and failing validation with a puzzling `$ isObject`.
 * Requests without a body (GET, POST …/resolve) pass whatever their content-type.
 */
function requireJsonContentType(req: Request, res: Response, next: NextFunction): void {
  const length = req.headers['content-length'];
  const hasBody =
    req.headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) > 0);
  if (!hasBody || req.is(['application/json', 'application/*+json'])) return next();
  const sent = req.headers['content-type'] ? 'another content-type' : 'no content-type';
  res
    .status(400)
    .json(
      toErrorObject(
        AppError.badRequest(
          `Request body must be JSON sent with "Content-Type: application/json" (got ${sent})`,
        ),
      ),
    );
}

/**
 * JSON bodies up to 256 KiB. A malformed body answers 400 BAD_REQUEST and an oversized one 413,
 * both as the §8 error object (express' own handler would answer HTML and quote the input).
 */
export function installBodyParser(app: INestApplication, limit = '256kb'): void {
  app.use(requireJsonContentType);
  app.use(express.json({ limit, strict: false }));
  app.use(
    (err: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
      if (!err) return next();
      if (err.type === 'entity.too.large') {
        res.status(413).json(toErrorObject(AppError.badRequest('Request body too large')));
        return;
      }
      if (err.type === 'entity.parse.failed' || err.status === 400) {
        res.status(400).json(toErrorObject(AppError.badRequest('Malformed JSON body')));
        return;
      }
      next(err as Error);
    },
  );
}
