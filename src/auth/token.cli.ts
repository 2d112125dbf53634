/**
 * Prints a token signed with the configured HS256 key, for trying the server by hand:
 *   npm run token -- --user nurse-1 --org school-1 --role nurse [--ttl 1h]
 */
import { SignJWT } from 'jose';
import { loadConfig, ConfigError } from '../config/config.js';
import { ROLES } from '../protocol/constants.js';

function parseTtl(ttl: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(ttl);
  if (!m) throw new Error(`--ttl must look like 90s, 15m, 1h or 2d, got "${ttl}"`);
  const n = Number(m[1]);
  return n * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[m[2]];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opts: Record<string, string> = { role: 'staff', ttl: '1h' };
  for (let i = 0; i < args.length; i += 2) {
    const k = args[i];
    if (!k.startsWith('--') || args[i + 1] === undefined)
      throw new Error(`Unexpected argument "${k}"`);
    opts[k.slice(2)] = args[i + 1];
  }
  if (!opts.user || !opts.org)
    throw new Error('Usage: npm run token -- --user ID --org ID [--role ROLE] [--ttl 1h]');
  if (!(ROLES as readonly string[]).includes(opts.role))
    throw new Error(`--role must be one of ${ROLES.join(', ')}`);
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
    .setExpirationTime(now + parseTtl(opts.ttl));
  if (config.jwt.issuer) jwt = jwt.setIssuer(config.jwt.issuer);
  if (config.jwt.audience) jwt = jwt.setAudience(config.jwt.audience);
  process.stdout.write((await jwt.sign(config.jwt.secret)) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(
    `${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
