/**
 * Prints a token signed with the configured HS256 key, for trying the server by hand. Run it as
 * the `wcr-token` bin (bin/wcr-token.mjs builds dist/ first only when sources changed):
 *   TOKEN=$(npx wcr-token --user nurse-1 --org school-1 --role nurse --ttl 1h)
 * Only the token goes to stdout; usage, errors and build output go to stderr.
 */
import { SignJWT } from 'jose';
import { loadConfig, ConfigError } from '../config/config.js';
import { ROLES } from '../protocol/constants.js';

export const USAGE = `Usage: wcr-token --user ID --org ID [--role ROLE] [--ttl DURATION]

Prints a JWT for this server's development key (JWT_SECRET, or the secret generated into
DATA_DIR/jwt-secret on first start) and nothing else on stdout.

Options:
  --user ID        the user id (token "sub")                       required
  --org ID         the organization id (claim "organizationId")    required
  --role ROLE      one of ${ROLES.join(', ')}   (default staff)
  --ttl DURATION   lifetime: 90s, 15m, 1h, 2d                      (default 1h)
  -h, --help       this text

Examples:
  npx wcr-token --user nurse-1 --org school-1 --role nurse
  TOKEN=$(npx wcr-token --user admin-1 --org school-1 --role admin --ttl 15m)
  curl -H "Authorization: Bearer $(npx wcr-token --user svc --org school-1 --role service)" \\
    http://localhost:3000/api/v1/rate-limits
  npm run --silent token -- --user nurse-2 --org school-1 --role nurse   # same, via npm

The server must use the same JWT_SECRET / DATA_DIR as this command (run both from the same
directory with the same environment).`;

class UsageError extends Error {}

function parseTtl(ttl: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(ttl);
  if (!m) throw new UsageError(`--ttl must look like 90s, 15m, 1h or 2d, got "${ttl}"`);
  const n = Number(m[1]);
  return n * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]];
}

const OPTIONS = new Set(['user', 'org', 'role', 'ttl']);

function parseArgs(args: string[]): Record<string, string> | 'help' {
  const opts: Record<string, string> = { role: 'staff', ttl: '1h' };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') return 'help';
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    if (!m || !OPTIONS.has(m[1])) throw new UsageError(`Unknown argument "${arg}"`);
    const value = m[2] ?? args[++i];
    if (value === undefined || value === '') throw new UsageError(`--${m[1]} needs a value`);
    opts[m[1]] = value;
  }
  if (!opts.user || !opts.org) throw new UsageError('--user and --org are required');
  if (!(ROLES as readonly string[]).includes(opts.role))
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const ttl = parseTtl(opts.ttl);
  const config = loadConfig();
  if (!config.jwt.secret)
    throw new Error(
      'The token command signs with JWT_SECRET; this server verifies with a public key',
    );
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ organizationId: opts.org, role: opts.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(opts.user)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl);
  if (config.jwt.issuer) jwt = jwt.setIssuer(config.jwt.issuer);
  if (config.jwt.audience) jwt = jwt.setAudience(config.jwt.audience);
  process.stdout.write((await jwt.sign(config.jwt.secret)) + '\n');
}

main().catch((err: unknown) => {
  const text = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
  process.stderr.write(err instanceof UsageError ? `${text}\n\n${USAGE}\n` : `${text}\n`);
  process.exit(1);
});
