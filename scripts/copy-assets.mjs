// Copies non-TypeScript assets (SQL migrations, the demo page) next to the compiled code, then
// stamps dist/ as built (scripts/build-if-stale.mjs compares sources against the stamp).
import { cpSync, existsSync, writeFileSync } from 'node:fs';

cpSync('src/persistence/migrations', 'dist/src/persistence/migrations', { recursive: true });
if (existsSync('web')) cpSync('web', 'dist/web', { recursive: true });
writeFileSync('dist/.build-stamp', `${new Date().toISOString()}\n`);
