import { Global, Module, type DynamicModule } from '@nestjs/common';
import { join } from 'node:path';
import type { AppConfig } from '../config/config.js';
import { DATABASE, openPglite, openPostgres, type DatabaseHandle } from './database.js';

/** The one place the database driver is chosen: node-postgres with DATABASE_URL, else PGlite. */
export async function openDatabase(config: AppConfig): Promise<DatabaseHandle> {
  return config.databaseUrl
    ? openPostgres(config.databaseUrl, { queryTimeoutMs: config.databaseQueryTimeoutMs })
    : openPglite({ dataDir: join(config.dataDir, 'pglite') });
}

/**
 * The `DATABASE` handle (PostgreSQL or the embedded PGlite, migrated at open). Closed by
 * InfrastructureModule after everything that writes (audit flush) has stopped.
 */
@Global()
@Module({})
export class DatabaseModule {
  /** `database`: an already open handle (tests: a PGlite cloned from a migrated template). */
  static forRoot(config: AppConfig, database?: DatabaseHandle): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: DATABASE, useFactory: () => database ?? openDatabase(config) }],
      exports: [DATABASE],
    };
  }
}
