/**
 * The demo page in a real browser: Debian's Chromium driven by playwright-core. Two browser
 * contexts are two nurses of the demo school; they chat (typing indicator, read ticks) and both
 * get an emergency alert raised through the HTTP API with a service token, which each must
 * acknowledge. On failure both pages are saved as screenshots under test-results/.
 * Run with `npm run test:browser` (its own vitest config; not part of `npm test`).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, useServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const RESULTS = join(import.meta.dirname, '..', '..', 'test-results');
const SCHOOL = 'demo-lincoln';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

describe.skipIf(!existsSync(CHROMIUM))('demo nurse-station page in Chromium', () => {
  const srv = useServer({ env: { DEMO_ENABLED: 'true' } });
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pages: Record<string, Page> = {};

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // playwright launches with a fresh temporary profile of its own (it refuses --user-data-dir).
      args: FLAGS,
      timeout: 60_000,
    });
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
  });

  async function screenshots(label: string): Promise<string[]> {
    mkdirSync(RESULTS, { recursive: true });
    const files: string[] = [];
    for (const [who, page] of Object.entries(pages)) {
      const file = join(RESULTS, `demo-${label}-${who}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
      files.push(file);
    }
    return files;
  }

  /** Runs a step; on failure saves a screenshot of every page first. */
  async function step(label: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const files = await screenshots(`failed-${label}`);
      throw Object.assign(err as Error, {
        message: `${(err as Error).message}\nscreenshots: ${files.join(', ')}`,
      });
    }
  }

  async function signIn(
    who: string,
    o: {
      viewport?: { width: number; height: number };
      url?: string;
      context?: BrowserContext;
    } = {},
  ): Promise<Page> {
    let context = o.context;
    if (!context) {
      context = await browser.newContext({ viewport: o.viewport ?? { width: 1280, height: 800 } });
      contexts.push(context);
    }
    const page = await context.newPage();
    pages[who] = page;
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(o.url ?? srv.url);
    await page.click(`[data-testid=signin-user][data-user=${who}]`);
    await page.waitForSelector('[data-testid=status][data-state=connected]', { timeout: 15_000 });
    expect(problems).toEqual([]);
    return page;
  }

  it('two nurses chat with typing and read receipts, get a notification, and both acknowledge an emergency alert', async () => {
    let amy!: Page;
    let ben!: Page;
    await step('sign-in', async () => {
      amy = await signIn('nurse-amy');
      ben = await signIn('nurse-ben');
      // Presence: each sees the other online.
      await amy.waitForSelector('[data-testid=presence][data-user=nurse-ben][data-status=online]', {
        timeout: 10_000,
      });
      await ben.waitForSelector('[data-testid=presence][data-user=nurse-amy][data-status=online]', {
        timeout: 10_000,
      });
    });

    await step('open-conversation', async () => {
      await amy.click('[data-testid=open-chat][data-user=nurse-ben]');
      await amy.waitForSelector('#chat-title:has-text("Ben Okafor")');
      // Ben hears about the new conversation, then opens the same one (a stable id per pair).
      await ben.waitForSelector('[data-testid=conversation]:has-text("Amy Chen")', {
        timeout: 10_000,
      });
      await ben.click('[data-testid=open-chat][data-user=nurse-amy]');
      await ben.waitForSelector('#chat-title:has-text("Amy Chen")');
    });

    const text = 'Ice pack needed in room 4, please';
    await step('typing', async () => {
      await amy.locator('[data-testid=composer]').pressSequentially('Ice pack', { delay: 30 });
      await ben.waitForSelector('[data-testid=typing]:has-text("Amy Chen is typing")', {
        timeout: 10_000,
      });
    });

    await step('message-and-read-receipt', async () => {
      await amy
        .locator('[data-testid=composer]')
        .pressSequentially(' needed in room 4, please', { delay: 5 });
      await amy.click('[data-testid=send]');
      const received = ben.locator('[data-testid=message][data-mine=false]', { hasText: text });
      await received.waitFor({ timeout: 10_000 });
      expect(await received.getAttribute('data-seq')).toBe('1');
      // Ben has the conversation on screen: the server relays his read receipt to Amy.
      await amy.waitForSelector(
        '[data-testid=message][data-mine=true] [data-testid=ticks][data-state=read]',
        { timeout: 10_000 },
      );
      // The typing indicator is gone once the message arrived.
      await ben.waitForSelector('[data-testid=typing]:text-is("")', { timeout: 10_000 });
      // And a reply the other way, to show both directions.
      await ben.locator('[data-testid=composer]').fill('On my way with one');
      await ben.click('[data-testid=send]');
      await amy
        .locator('[data-testid=message][data-mine=false]', { hasText: 'On my way' })
        .waitFor({ timeout: 10_000 });
      await ben.waitForSelector(
        '[data-testid=message][data-mine=true] [data-testid=ticks][data-state=read]',
        { timeout: 10_000 },
      );
    });

    await step('notification', async () => {
      const service = await signToken({
        userId: 'district-dispatch',
        organizationId: SCHOOL,
        role: 'service',
      });
      const res = await fetch(`${srv.url}/api/v1/notifications`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${service}` },
        body: JSON.stringify({
          organizationId: SCHOOL,
          userIds: ['nurse-amy'],
          type: 'medication:due',
          title: 'Inhaler due at 11:30',
          body: 'Grade 3, room 12',
          priority: 'high',
        }),
      });
      expect(res.status).toBe(202);
      const item = amy.locator('[data-testid=notification]', { hasText: 'Inhaler due at 11:30' });
      await item.waitFor({ timeout: 10_000 });
      await amy.waitForSelector('[data-testid=notif-count][data-count="1"]');
      await item.locator('button').click();
      await amy.waitForSelector('[data-testid=notif-count][data-count="0"]', { timeout: 10_000 });
      // Only the addressee got it.
      expect(await ben.locator('[data-testid=notification]').count()).toBe(0);
    });

    let alertId = '';
    await step('emergency-alert', async () => {
      const service = await signToken({
        userId: 'district-dispatch',
        organizationId: SCHOOL,
        role: 'service',
      });
      const res = await fetch(`${srv.url}/api/v1/alerts/emergency`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${service}` },
        body: JSON.stringify({
          organizationId: SCHOOL,
          title: 'Severe allergic reaction',
          message: 'Student in the gym needs an epinephrine auto-injector now.',
          severity: 'critical',
          location: 'Gymnasium',
        }),
      });
      expect(res.status).toBe(202);
      alertId = ((await res.json()) as { alert: { id: string } }).alert.id;
      for (const page of [amy, ben]) {
        const banner = page.locator(`[data-testid=alert-banner][data-id="${alertId}"]`);
        await banner.waitFor({ timeout: 10_000 });
        expect(await banner.textContent()).toContain('Severe allergic reaction');
        expect(await banner.textContent()).toContain('Gymnasium');
      }
      if (process.env.DEMO_SCREENSHOTS === '1') await screenshots('alert');
    });

    await step('acknowledge', async () => {
      for (const page of [amy, ben]) {
        await page.click(
          `[data-testid=alert-banner][data-id="${alertId}"] [data-testid=ack-alert]`,
        );
        await page.waitForSelector(
          `[data-testid=alert-banner][data-id="${alertId}"][data-acknowledged=true]`,
          { timeout: 10_000 },
        );
      }
      const service = await signToken({
        userId: 'district-dispatch',
        organizationId: SCHOOL,
        role: 'service',
      });
      const status = (await (
        await fetch(`${srv.url}/api/v1/alerts/${alertId}`, {
          headers: { Authorization: `Bearer ${service}` },
        })
      ).json()) as { recipients: { acknowledged: number } };
      expect(status.recipients.acknowledged).toBeGreaterThanOrEqual(2);
      // The banner leaves once acknowledged.
      for (const page of [amy, ben])
        await page.waitForSelector('[data-testid=alert-banner]', {
          state: 'detached',
          timeout: 10_000,
        });
    });
  });

  /** The element's box; it must exist and be visible. */
  async function box(page: Page, selector: string) {
    const loc = page.locator(selector).first();
    await loc.waitFor({ state: 'visible', timeout: 10_000 });
    const b = await loc.boundingBox();
    expect(b, selector).not.toBeNull();
    return b!;
  }
  type Box = { x: number; y: number; width: number; height: number };
  const overlaps = (a: Box, b: Box) =>
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
  const inside = (a: Box, width: number, height: number) =>
    a.x >= -0.5 && a.y >= -0.5 && a.x + a.width <= width + 0.5 && a.y + a.height <= height + 0.5;

  async function serviceToken(): Promise<string> {
    return signToken({ userId: 'district-dispatch', organizationId: SCHOOL, role: 'service' });
  }

  it('an admin raises a drill (expiring by itself) and resolves it; the banner covers nothing; the list survives a reload', async () => {
    let carla!: Page;
    let amy!: Page;
    const text = `Reload check ${Date.now()}`;
    await step('sign-in-and-chat', async () => {
      carla = await signIn('admin-carla');
      amy = await signIn('nurse-amy');
      await amy.click('[data-testid=open-chat][data-user=staff-dan]');
      await amy.waitForSelector('#chat-title:has-text("Dan Miller")');
      await amy.locator('[data-testid=composer]').fill(text);
      await amy.click('[data-testid=send]');
      await amy.waitForSelector(
        '[data-testid=message][data-mine=true] [data-testid=ticks][data-state=sent]',
        {
          timeout: 10_000,
        },
      );
    });

    let alertId = '';
    await step('drill', async () => {
      await carla.click('#raise-drill');
      for (const page of [carla, amy])
        await page.waitForSelector('[data-testid=alert-banner]', { timeout: 10_000 });
      alertId = (await amy.locator('[data-testid=alert-banner]').first().getAttribute('data-id'))!;
      // Nothing is covered and the page does not scroll: banner above the top bar, chat header below.
      const banner = await box(amy, '[data-testid=alert-banner]');
      const topbar = await box(amy, '[data-testid=topbar]');
      const header = await box(amy, '[data-testid=chat-header]');
      expect(overlaps(banner, topbar)).toBe(false);
      expect(overlaps(banner, header)).toBe(false);
      expect(banner.y + banner.height).toBeLessThanOrEqual(topbar.y + 0.5);
      expect(topbar.y + topbar.height).toBeLessThanOrEqual(header.y + 0.5);
      const scroll = await amy.evaluate(() => ({
        page: document.scrollingElement!.scrollHeight,
        view: window.innerHeight,
      }));
      expect(scroll.page).toBeLessThanOrEqual(scroll.view);
      await box(amy, '[data-testid=composer]');
      // Only the admin is offered Resolve.
      expect(await amy.locator('[data-testid=resolve-alert]').count()).toBe(0);
      await box(carla, '[data-testid=resolve-alert]');
      await screenshots('drill');

      const status = (await (
        await fetch(`${srv.url}/api/v1/alerts/${alertId}`, {
          headers: { Authorization: `Bearer ${await serviceToken()}` },
        })
      ).json()) as { alert: { expiresAt?: string } };
      const ttl = Date.parse(status.alert.expiresAt ?? '') - Date.now();
      expect(ttl).toBeGreaterThan(5 * 60_000);
      expect(ttl).toBeLessThanOrEqual(15 * 60_000);
    });

    await step('resolve', async () => {
      await carla.click(
        `[data-testid=alert-banner][data-id="${alertId}"] [data-testid=resolve-alert]`,
      );
      for (const page of [carla, amy])
        await page.waitForSelector(`[data-testid=alert-banner][data-id="${alertId}"]`, {
          state: 'detached',
          timeout: 10_000,
        });
    });

    await step('reload', async () => {
      await amy.reload();
      await amy.waitForSelector('[data-testid=status][data-state=connected]', { timeout: 15_000 });
      const item = amy.locator('[data-testid=conversation]', { hasText: 'Dan Miller' });
      await item.waitFor({ timeout: 10_000 });
      expect(await item.textContent()).toContain(`You: ${text}`);
      // A resolved drill does not come back.
      expect(await amy.locator('[data-testid=alert-banner]').count()).toBe(0);
    });
  });

  it('is usable on a 390 px phone: the list is there, the top bar does not overflow, chat and back work', async () => {
    const phone = { width: 390, height: 844 };
    let ben!: Page;
    await step('phone-sign-in', async () => {
      ben = await signIn('nurse-ben', { viewport: phone });
      const topbarFits = await ben.evaluate(() => {
        const t = document.querySelector('[data-testid=topbar]')!;
        return t.scrollWidth <= t.clientWidth && document.documentElement.scrollWidth <= 390;
      });
      expect(topbarFits).toBe(true);
      const topbar = await box(ben, '[data-testid=topbar]');
      const teamButton = await box(ben, '[data-testid=open-team]');
      const status = await box(ben, '[data-testid=status]');
      for (const b of [topbar, teamButton, status])
        expect(inside(b, phone.width, phone.height)).toBe(true);
      expect(overlaps(topbar, teamButton)).toBe(false);
      await ben.waitForSelector('[data-testid=conversation]', { timeout: 10_000 });
      await screenshots('phone-list');
    });
    await step('phone-chat', async () => {
      await ben.click('[data-testid=open-team]');
      await ben.waitForSelector('#chat-title:has-text("Health office team room")');
      const header = await box(ben, '[data-testid=chat-header]');
      const composer = await box(ben, '[data-testid=composer]');
      const topbar = await box(ben, '[data-testid=topbar]');
      for (const b of [header, composer]) expect(inside(b, phone.width, phone.height)).toBe(true);
      expect(overlaps(header, topbar)).toBe(false);
      expect(overlaps(header, composer)).toBe(false);
      await ben.locator('[data-testid=composer]').fill('From my phone');
      await ben.click('[data-testid=send]');
      await ben
        .locator('[data-testid=message][data-mine=true]', { hasText: 'From my phone' })
        .waitFor({ timeout: 10_000 });
      await screenshots('phone-chat');
      await ben.click('#back');
      await box(ben, '[data-testid=conversation]');
    });
  });

  it('a rate-limited message says when it will go and is sent after the tab was closed and reopened', async () => {
    const strict = await startServer({
      env: {
        DEMO_ENABLED: 'true',
        RATE_LIMITS: JSON.stringify({ 'message:send': { maxTokens: 2, refillIntervalMs: 6000 } }),
      },
    });
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      const text = `third, over the limit ${Date.now()}`;
      const stored = async () => {
        const result: unknown = await strict.database.db.execute(
          sql`SELECT count(*)::int AS n FROM messages WHERE content = ${text}`,
        );
        return (result as { rows: Array<{ n: number }> }).rows[0].n;
      };
      let first!: Page;
      await step('rate-limited', async () => {
        first = await signIn('nurse-amy', { url: strict.url, context });
        await first.click('[data-testid=open-team]');
        await first.waitForSelector('#chat-title:has-text("Health office team room")');
        for (const t of ['one', 'two', text]) {
          await first.locator('[data-testid=composer]').fill(t);
          await first.click('[data-testid=send]');
        }
        // The note reads "sending…" until the server's RATE_LIMIT_EXCEEDED arrives.
        const note = first.locator(
          '[data-testid=message][data-pending=true] [data-testid=pending-note]',
          { hasText: 'rate limited' },
        );
        await note.waitFor({ timeout: 10_000 });
        expect(await note.textContent()).toMatch(/rate limited · sends at \d{1,2}:\d{2}:\d{2}/);
        await screenshots('rate-limited');
        await first.close(); // the tab goes away with the message unsent
        expect(await stored()).toBe(0);
      });
      await step('reopened', async () => {
        // Same browser profile, new tab: the SDK's outbox (localStorage) sends it, once.
        const second = await signIn('nurse-amy', { url: strict.url, context });
        await second.click('[data-testid=open-team]');
        await second
          .locator('[data-testid=message][data-mine=true]:not([data-pending])', { hasText: text })
          .waitFor({ timeout: 20_000 });
        expect(await stored()).toBe(1);
        expect(await second.locator('[data-testid=message]', { hasText: text }).count()).toBe(1);
      });
    } finally {
      await strict.close();
    }
  });
});
