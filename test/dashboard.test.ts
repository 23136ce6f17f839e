import { mkdirSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords } from '../bench/lib/generate/index.ts';
import { audit, proposeDeactivation } from '../src/actions/approvals/store.ts';
import type { RawRecord } from '../src/events/model.ts';
import { normalize } from '../src/events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows } from '../src/flows/index.ts';
import { createApp } from '../src/http/app.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { createMetrics } from '../src/runtime/metrics.ts';
import { openInlineQueue } from '../src/runtime/inline.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { launchChromium } from './helpers/browser.ts';
import { createTestDatabase } from './helpers/db.ts';
import { allIngestible } from './helpers/fixtures.ts';

/**
 * The dashboard in a real browser: Debian's chromium through playwright-core, against the web role's
 * Hono app on a real HTTP server and a real PostgreSQL store holding the fixture records and a month
 * of generated trail. A screenshot of each page goes to test-artifacts/dashboard/ (git ignores
 * test-artifacts/): events, event, events-finding, clickops, findings, approvals and refused.
 */
const ARTIFACTS = join(import.meta.dirname, '../test-artifacts/dashboard');
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let server: Server;
let base: string;
let browser: BrowserContext;
let closeBrowser: () => Promise<void>;
let page: Page;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  db = await createTestDatabase('trailbot_dashboard');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  const fixtures = allIngestible();
  const generated = [...generateRecords({ count: 3000, start: new Date('2025-03-03T00:00:00Z'), days: 28, seed: 7 })].map((raw) => ({ event: normalize(raw as RawRecord), raw: raw as RawRecord }));
  await store.ingest([...fixtures, ...generated]);
  await evaluateFlows(store, fixtures, defaultFlowsConfig());
  await audit(store.db, { action: 'signed-in', actor: 'alana@example.com', ip: '127.0.0.1', outcome: 'ok' });
  const { rows } = await store.db.query<{ id: string }>('SELECT id FROM findings ORDER BY id LIMIT 1');
  await proposeDeactivation(store.db, { findingId: rows[0]!.id, target: { kind: 'user' }, principal: 'arn:aws:iam::111111111111:user/mallory', required: 2, ttlMs: 86_400_000 });
  const queue = openInlineQueue(store.db, 'dashboard-test');
  app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'web' });
  server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server)) as Server;
  });
  base = `http://localhost:${(server.address() as AddressInfo).port}`;
  ({ browser, close: closeBrowser } = await launchChromium());
  page = await browser.newPage();
});

afterAll(async () => {
  await closeBrowser?.();
  await new Promise((r) => server?.close(r));
  await store?.close();
  await db?.drop();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Every control has a label, and all text has WCAG AA contrast against what is behind it. */
async function accessible(): Promise<void> {
  // Run in the page (a string: the project's types have no DOM).
  const problems = (await page.evaluate(`(() => {
    const out = [];
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (!el.labels?.length && !el.getAttribute('aria-label')) out.push(\`no label: \${el.outerHTML.slice(0, 80)}\`);
    }
    const rgb = (s) => (s.match(/[0-9.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => {
        const c = v / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest('svg') || el.closest('details:not([open])')) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '');
      if (!own || el.offsetParent === null) continue;
      const fg = lum(rgb(getComputedStyle(el).color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5) out.push(\`contrast \${ratio.toFixed(2)}: \${el.tagName} \${el.textContent.trim().slice(0, 40)}\`);
    }
    return out;
  })()`)) as string[];
  expect(problems).toEqual([]);
}

describe('the dashboard in chromium', () => {
  it('events: loads, filters through the URL, pages with a cursor, opens the raw record', async () => {
    await page.goto(`${base}/?since=2025-03-01&until=2025-04-01`);
    await expect(page.title()).resolves.toBe('Events · trailbot');
    expect(await page.locator('.access').textContent()).toContain('localhost');
    const lines = page.locator('li.event');
    expect(await lines.count()).toBe(50);
    const firstTime = await lines.first().locator('time').getAttribute('datetime');
    await shot('events');
    await accessible();

    await page.getByRole('link', { name: 'Next page' }).click();
    expect(page.url()).toContain('cursor=');
    expect(await lines.count()).toBe(50);
    const secondTime = await lines.first().locator('time').getAttribute('datetime');
    expect(secondTime! <= firstTime!).toBe(true);

    // Filter by outcome and via: the filters go into the URL, every line matches.
    await page.goto(`${base}/?since=2025-03-01&until=2025-04-01`);
    await page.getByLabel('Via').selectOption('console');
    await page.getByLabel('Outcome').selectOption('denied');
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(new URL(page.url()).searchParams.get('via')).toBe('console');
    expect(new URL(page.url()).searchParams.get('outcome')).toBe('denied');
    expect(await lines.count()).toBeGreaterThan(0);
    for (const tags of await page.locator('li.event .tags').allTextContents()) expect(tags).toMatch(/console.*denied/s);
    // Changes only: a checkbox, through its label; it stays checked on the page it leads to.
    await page.getByLabel('Changes only').check();
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(new URL(page.url()).searchParams.get('writes')).toBe('1');
    expect(await page.getByLabel('Changes only').isChecked()).toBe(true);
    expect(await lines.count()).toBeGreaterThan(0);

    // A shared link reproduces the same page.
    const shared = page.url();
    const again = await browser.newPage();
    await again.goto(shared);
    expect(await again.locator('li.event .what').allTextContents()).toEqual(await page.locator('li.event .what').allTextContents());
    await again.close();

    // The raw record is one click away.
    const summary = await lines.first().locator('.what').textContent();
    await lines.first().getByRole('link', { name: /Raw record/ }).click();
    expect(page.url()).toMatch(/\/events\//);
    expect(await page.locator('p.what').textContent()).toBe(summary);
    const raw = JSON.parse((await page.locator('pre.raw-record').textContent())!) as Record<string, unknown>;
    expect(raw.eventID).toBe(decodeURIComponent(page.url().split('/events/')[1]!));
    await shot('event');
    await accessible();
  });

  it('a person is resolved as /trail resolves them', async () => {
    await page.goto(`${base}/?since=2025-03-01&until=2025-04-01&via=console`);
    const who = (await page.locator('li.event .what').first().textContent())!.split(' ')[0]!;
    await page.getByLabel('Person').fill(who);
    await page.getByRole('button', { name: 'Filter' }).click();
    expect(new URL(page.url()).searchParams.get('person')).toBe(who);
    expect(await page.locator('.note .chip').count()).toBeGreaterThan(0);
    const texts = await page.locator('li.event .what').allTextContents();
    expect(texts.length).toBeGreaterThan(0);
    for (const t of texts) expect(t.startsWith(who)).toBe(true);
  });

  it('keyboard: skip link, filters and results reached with Tab, submitted with Enter', async () => {
    await page.goto(`${base}/?since=2025-03-01&until=2025-04-01`);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    let guard = 0;
    while ((await page.evaluate('document.activeElement?.id')) !== 'f-region' && guard++ < 30) await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.id')).toBe('f-region');
    await page.keyboard.type('eu-west-1');
    await page.keyboard.press('Enter');
    await page.waitForURL(/region=eu-west-1/);
    expect(await page.locator('li.event').count()).toBeGreaterThan(0);
    // The focus ring is visible on a focused link.
    await page.locator('a.raw').first().focus();
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).toBe('solid');
  });

  it('ClickOps: charts drawn with data, each with a data table', async () => {
    await page.goto(`${base}/clickops?until=2025-03-30`);
    const perDay = page.locator('svg[data-chart="per-day"] rect');
    expect(await perDay.count()).toBe(30);
    const heights = await perDay.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    expect(heights.filter((h) => h > 0).length).toBeGreaterThan(5);
    expect(Math.max(...heights)).toBeCloseTo(150);
    for (const id of ['by-person', 'by-type', 'top-resources', 'months']) {
      const widths = await page.locator(`svg[data-chart="${id}"] rect`).evaluateAll((rs) => rs.map((r) => r.getBoundingClientRect().width));
      expect(widths.length, id).toBeGreaterThan(0);
      expect(Math.max(...widths), id).toBeGreaterThan(100);
    }
    expect(await page.locator('figure.chart details').count()).toBe(5);
    await shot('clickops');
    await accessible();
    // Attempts that did not go through are not counted; the page links to them on the Events page.
    await page.getByRole('link', { name: 'denied', exact: true }).click();
    const u = new URL(page.url());
    expect(Object.fromEntries(u.searchParams)).toMatchObject({ via: 'console', writes: '1', outcome: 'denied', until: '2025-03-30T00:00:00.000Z' });
    expect(await page.locator('li.event').count()).toBeGreaterThan(0);
    for (const tags of await page.locator('li.event .tags').allTextContents()) expect(tags).toMatch(/console.*denied/s);
  });

  it('findings and tickets: counts, severity, a finding opens on its events', async () => {
    await page.goto(`${base}/findings`);
    const rows = page.locator('table.list tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    expect(await page.locator('.note').textContent()).toMatch(/\d+ open, \d+ closed/);
    await shot('findings');
    await accessible();
    const link = rows.first().locator('a').first();
    const title = await link.textContent();
    await link.click();
    expect(page.url()).toContain('finding=');
    expect(await page.locator('.note').first().textContent()).toContain(title!);
    expect(await page.locator('li.event').count()).toBeGreaterThan(0);
    await shot('events-finding');
    await accessible();
  });

  it('approvals: pending approvals and the audit log', async () => {
    await page.goto(`${base}/audit`);
    expect(await page.locator('h2').allTextContents()).toEqual(['Pending approvals', 'Audit log']);
    const pending = page.locator('table.list').first().locator('tbody tr');
    expect(await pending.count()).toBe(1);
    expect(await pending.textContent()).toMatch(/deactivate.*user\/mallory.*0 of 2/s);
    const log = (await page.locator('table.list').nth(1).textContent())!;
    expect(log).toContain('alana@example.com');
    expect(log).toContain('proposed');
    // The pending approval opens on its finding's events.
    await pending.getByRole('link', { name: 'its events' }).click();
    expect(await page.locator('li.event').count()).toBeGreaterThan(0);
    await page.goto(`${base}/audit`);
    await shot('approvals');
    await accessible();
  });
});

describe('access', () => {
  /** An IPv4 address of this machine that is not loopback, if it has one. */
  const outward = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

  it.skipIf(!outward)('with none configured it answers on localhost only, and says so on the page', async () => {
    // The same app listening on this machine's outward address: what a colleague's browser would reach.
    const wide = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: outward }, () => resolve(s as Server)) as Server;
    });
    try {
      const port = (wide.address() as AddressInfo).port;
      const refused = await page.goto(`http://${outward}:${port}/`);
      expect(refused!.status()).toBe(403);
      expect(await page.locator('.access').textContent()).toMatch(/answers this machine \(localhost\) only/);
      expect(await page.locator('.error').textContent()).toMatch(/answers only the machine trailbot runs on[\s\S]*E_FORBIDDEN/);
      await shot('refused');
      await accessible();
      // Addressed to localhost but coming from another address: refused all the same.
      const status = await new Promise<number>((resolve, reject) => {
        const r = request({ host: outward, port, path: '/', headers: { host: `localhost:${port}`, accept: 'text/html' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        r.on('error', reject);
        r.end();
      });
      expect(status).toBe(403);
      // And from here, the page answers, with the same banner.
      await page.goto(`${base}/findings`);
      expect(await page.locator('.access').textContent()).toMatch(/answers this machine \(localhost\) only/);
    } finally {
      wide.closeAllConnections(); // chromium keeps its connection open
      await new Promise((r) => wide.close(r));
    }
  });

  it('with bearer tokens configured, a page needs one; JSON clients still get the links at /', async () => {
    const queue = openInlineQueue(store.db, 'dashboard-auth');
    const app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'web', auth: { tokens: ['s3cret-token'] } });
    const html = { accept: 'text/html' };
    const refused = await app.request('http://trailbot.example/findings', { headers: html });
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain('Authorization: Bearer');
    const ok = await app.request('http://trailbot.example/findings', { headers: { ...html, authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await ok.text()).not.toContain('localhost only');
    const json = await app.request('http://trailbot.example/');
    expect(json.headers.get('content-type')).toContain('application/json');
    // Open mode: a request addressed to another name (DNS rebinding) is refused.
    const open = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'web' });
    expect((await open.request('http://attacker.example/', { headers: html })).status).toBe(403);
    expect((await open.request('http://localhost/', { headers: html })).status).toBe(200);
  });

  it('with sign-in configured, a browser without a session is sent to /auth/login and back; a session opens the page', async () => {
    const queue = openInlineQueue(store.db, 'dashboard-signin');
    let who: string | undefined;
    const app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'web', dashboardSession: async () => who });
    const r = await app.request('http://trailbot.example/clickops?until=2025-03-30', { headers: { accept: 'text/html' } });
    expect(r.status).toBe(302);
    expect(r.headers.get('location')).toBe(`/auth/login?next=${encodeURIComponent('/clickops?until=2025-03-30')}`);
    who = 'alana@example.com';
    const ok = await app.request('http://trailbot.example/clickops?until=2025-03-30', { headers: { accept: 'text/html' } });
    expect(ok.status).toBe(200);
    // The API itself still takes bearer tokens only: with none, it answers this machine only, signed in or not.
    expect((await app.request('http://trailbot.example/api/events?event_name=x')).status).toBe(403);
  });
});
