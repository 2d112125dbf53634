/**
 * The demo page shows an escalated alert to an admin (contract §12.7): an emergency nobody
 * acknowledges is escalated to a real webhook receiver on 127.0.0.1, and the principal's banner
 * is marked "escalated to on-call". Run with `npm run test:browser`.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCHOOL = 'demo-lincoln';

describe.skipIf(!existsSync(CHROMIUM))('demo page: escalated alert', () => {
  // The receiver's hooks come before the server's: it starts first and closes after the server.
  const receiver = new WebhookReceiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(() => receiver.close());
  const srv = useServer(() => ({
    env: {
      // Test servers sign with a configured JWT_SECRET, which turns the demo off (§12.3).
      DEMO_ENABLED: 'true',
      ALERT_ESCALATION_WEBHOOK_URL: receiver.url,
      ALERT_ESCALATION_SECRET: 'demo-escalation-secret',
      ALERT_ESCALATION_AFTER_MS: '1500',
    },
  }));
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
      timeout: 60_000,
    });
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
  });

  it('the principal sees the unacknowledged emergency marked as escalated', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(srv.url);
      await page.click('[data-testid=signin-user][data-user=admin-carla]');
      await page.waitForSelector('[data-testid=status][data-state=connected]', {
        timeout: 15_000,
      });
      const service = await signToken({
        userId: 'district-dispatch',
        organizationId: SCHOOL,
        role: 'service',
      });
      const res = await fetch(`${srv.url}/api/v1/alerts/emergency`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${service}` },
        body: JSON.stringify({ organizationId: SCHOOL, title: 'Seizure', message: 'Room 12' }),
      });
      expect(res.status).toBe(202);
      const { alert } = (await res.json()) as { alert: { id: string } };
      const banner = `[data-testid=alert-banner][data-id="${alert.id}"]`;
      await page.waitForSelector(banner, { timeout: 10_000 });
      await page.waitForSelector(`${banner}[data-escalated]`, { timeout: 20_000 });
      expect(await page.locator(banner).textContent()).toContain('ESCALATED TO ON-CALL');
      expect(receiver.for(alert.id)).toHaveLength(1);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
