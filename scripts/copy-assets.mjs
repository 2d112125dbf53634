// Copies non-TypeScript assets (SQL migrations, the demo page) next to the compiled code.
import { cpSync, existsSync } from 'node:fs';

cpSync('src/persistence/migrations', 'dist/src/persistence/migrations', { recursive: true });
if (existsSync('web')) cpSync('web', 'dist/web', { recursive: true });
