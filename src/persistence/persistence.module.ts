import { Global, Module } from '@nestjs/common';
import { DatabaseErrors } from './database-errors.js';
import { TransactionRunner } from './transaction-runner.js';

/**
 * What services and repositories get instead of the `DATABASE` handle: the transaction runner
 * and the one database-error mapping. The handle itself (PGlite | PostgreSQL, chosen from config)
 * is provided by the infrastructure module; repositories, health and audit use it directly.
 */
@Global()
@Module({
  providers: [DatabaseErrors, TransactionRunner],
  exports: [DatabaseErrors, TransactionRunner],
})
export class PersistenceModule {}
