import { execFile } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { connect } from './support/client.js';
import { useServer } from './support/server.js';
import { TEST_JWT_SECRET } from './support/tokens.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..');
const cli = join(ROOT, 'bin/wcr-token.mjs');
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

describe('the wcr-token bin (npx wcr-token, npm run --silent token)', () => {
  const srv = useServer();

  const env = () => ({
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-cli-')),
  });
  const token = (args: string[]) => run(process.execPath, [cli, ...args], { env: env() });

  it('prints a token the server accepts, with the given user, org, role and ttl', async () => {
    const { stdout } = await token([
      '--user',
      'nurse-cli',
      '--org',
      'school-cli',
      '--role',
      'nurse',
      '--ttl',
      '15m',
    ]);
    expect(stdout).toMatch(JWT);
    const jwt = stdout.trim();
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()) as {
      exp: number;
      iat: number;
    };
    expect(payload.exp - payload.iat).toBe(900);
    const { socket, confirmed } = await connect(srv.url, jwt);
    expect(confirmed).toMatchObject({
      userId: 'nurse-cli',
      organizationId: 'school-cli',
      role: 'nurse',
    });
    socket.close();
  });

  it('prints only the token on stdout via npx and npm run --silent, without rebuilding dist/', async () => {
    // The global setup has just built dist/: nothing may be rebuilt (no build output, stamp unchanged).
    const stamp = statSync(join(ROOT, 'dist/.build-stamp')).mtimeMs;
    const args = ['--user', 'nurse-npx', '--org', 'school-cli', '--role', 'nurse'];
    const viaNpx = await run('npx', ['--no-install', 'wcr-token', ...args], {
      cwd: ROOT,
      env: env(),
    });
    expect(viaNpx.stdout).toMatch(JWT);
    expect(viaNpx.stderr).not.toMatch(/Building/);
    const viaNpm = await run('npm', ['run', '--silent', 'token', '--', ...args], {
      cwd: ROOT,
      env: env(),
    });
    expect(viaNpm.stdout).toMatch(JWT);
    expect(viaNpm.stderr).not.toMatch(/Building/);
    expect(statSync(join(ROOT, 'dist/.build-stamp')).mtimeMs).toBe(stamp);
    const { socket, confirmed } = await connect(srv.url, viaNpx.stdout.trim());
    expect(confirmed).toMatchObject({ userId: 'nurse-npx', role: 'nurse' });
    socket.close();
  });

  it('--help prints usage with examples on stdout and exits 0', async () => {
    const { stdout } = await token(['--help']);
    expect(stdout).toContain('Usage: wcr-token');
    expect(stdout).toContain('Examples:');
    expect(stdout).toContain('TOKEN=$(npx wcr-token');
    expect((await token(['-h'])).stdout).toBe(stdout);
  });

  it('refuses bad arguments with a clear message and exit code 1', async () => {
    await expect(token(['--user', 'x'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Usage') as unknown,
      stdout: '',
    });
    await expect(token(['--user', 'x', '--org', 'y', '--colour', 'red'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Unknown argument "--colour"') as unknown,
    });
    await expect(token(['--user', 'x', '--org', 'y', '--role', 'janitor'])).rejects.toMatchObject({
      code: 1,
    });
    await expect(token(['--user', 'x', '--org', 'y', '--ttl', 'soon'])).rejects.toMatchObject({
      code: 1,
    });
  });
});
