#!/usr/bin/env node
// `npx wcr-token --user ID --org ID [--role ROLE] [--ttl 1h]` (or `--help`): prints a development
// JWT and nothing else on stdout, so TOKEN=$(npx wcr-token …) works. Builds dist/ first only when
// a source changed since the last build (build output on stderr).
import { ensureBuilt } from '../scripts/build-if-stale.mjs';

ensureBuilt({ quiet: false });
await import('../dist/src/auth/token.cli.js');
