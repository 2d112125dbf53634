import type { INestApplication } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AppError, toErrorObject } from '../protocol/errors.js';

/**
 * JSON bodies up to 256 KiB. A malformed body answers 400 BAD_REQUEST and an oversized one 413,
 * both as the §8 error object (express' own handler would answer HTML and quote the input).
 */
export function installBodyParser(app: INestApplication, limit = '256kb'): void {
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
