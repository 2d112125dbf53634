import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './support/client.js';
import { startServer, type TestServer } from './support/server.js';
import { TEST_JWT_SECRET } from './support/tokens.js';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'dist/src/auth/token.cli.js');

describe('npm run token', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(() => srv.close());

  const token = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [cli, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        JWT_SECRET: TEST_JWT_SECRET,
        DATA_DIR: mkdtempSync(join(tmpdir(), 'wcr-cli-')),
        ...env,
      },
    });

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

  it('refuses bad arguments with a clear message and exit code 1', async () => {
    await expect(token(['--user', 'x'])).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Usage') as unknown,
    });
    await expect(token(['--user', 'x', '--org', 'y', '--role', 'janitor'])).rejects.toMatchObject({
      code: 1,
    });
    await expect(token(['--user', 'x', '--org', 'y', '--ttl', 'soon'])).rejects.toMatchObject({
      code: 1,
    });
  });
});
