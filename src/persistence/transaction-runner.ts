import { Inject, Injectable, Optional } from '@nestjs/common';
import { DATABASE, type DatabaseHandle, type Tx } from './database.js';
import { DatabaseErrors } from './database-errors.js';

export type { Tx };

/**
 * Runs a unit of work in one database transaction: services hand `tx` to the repositories (each
 * repository method that may take part accepts an optional `tx`) and never see the database
 * handle. Commits when `fn` resolves, rolls back when it throws; a failure leaves as an AppError
 * (DatabaseErrors: SERVICE_UNAVAILABLE for a lost database or a failed commit, CONFLICT /
 * VALIDATION_ERROR `storable` for what the database refused), logged by class and SQLSTATE only.
 */
@Injectable()
export class TransactionRunner {
  private readonly errors: DatabaseErrors;

  constructor(
    @Inject(DATABASE) private readonly database: DatabaseHandle,
    @Optional() errors?: DatabaseErrors,
  ) {
    this.errors = errors ?? new DatabaseErrors();
  }

  async run<T>(fn: (tx: Tx) => Promise<T>, operation = 'transaction'): Promise<T> {
    try {
      return await this.database.db.transaction(fn);
    } catch (err) {
      throw this.errors.map(operation, err);
    }
  }
}
