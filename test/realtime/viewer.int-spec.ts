/**
 * The build viewer page in headless Chromium (Debian's `chromium`, driven by playwright-core as DESIGN.md §5
 * describes) against the five services: a build started from the page, followed live to its summary. The
 * screenshot is kept under test/artifacts/ (not committed).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { devUserId, LOCAL_DEV_USER } from '@vibe/platform';
import { isTimelineEvent, type BuildEventView, type BuildVerification, type SessionView } from '@vibe/contracts';
import { freePorts, ROOT_DIR, SERVICES, startStack, type RunningStack } from '../../tools/cli/src/stack.js';
import {
  createControlPlaneDatabase,
  createNamespace,
  dropDatabasesLike,
  PG_ADMIN_URL,
  uniqueName,
  waitFor,
  type TestDatabase,
} from '../support/index.js';
import { LENIENT_LIMITS, signedIn } from '../support/auth.js';

const ARTIFACTS = path.join(ROOT_DIR, 'test', 'artifacts');
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('the build viewer page in Chromium', () => {
  let db: TestDatabase;
  let namespace: ReturnType<typeof createNamespace>;
  let envPrefix: string;
  let stack: RunningStack;
  let browser: BrowserContext;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    db = await createControlPlaneDatabase('vibe_viewer');
    namespace = createNamespace('viewer');
    envPrefix = `${uniqueName('vibe_vw')}_`;
    const ports = await freePorts(SERVICES.length);
    const portOf = Object.fromEntries(SERVICES.map((service, i) => [service, ports[i]!]));
    stack = await startStack({
      env: {
        DATABASE_URL: db.url,
        NATS_NAMESPACE: namespace.namespace,
        ENV_DATABASE_URL: PG_ADMIN_URL,
        ENV_DB_PREFIX: envPrefix,
        REALTIME_URL: `http://127.0.0.1:${portOf['realtime-bridge']}`,
        // The page's local dev sign-in, as `npm run dev` serves it.
        DEV_TOKENS: 'true',
        ...LENIENT_LIMITS,
      },
      ports: portOf,
    });
    // A fresh profile each run (the --user-data-dir of DESIGN.md §5).
    profile = mkdtempSync(path.join(os.tmpdir(), 'vibe-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1100, height: 1300 },
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await stack?.stop();
    await dropDatabasesLike(envPrefix);
    await db?.drop();
    await namespace?.cleanup();
  });

  async function openPage(url: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    // Nothing may come from anywhere but the gateway and the bridge (no CDN).
    page.on('request', (request) => {
      if (!request.url().startsWith('http://127.0.0.1:') && !request.url().startsWith('ws://127.0.0.1:')) {
        problems.push(`request to ${request.url()}`);
      }
    });
    await page.goto(url);
    return page;
  }

  /** Waits for the progress bar's animation to reach the end (for the picture). */
  async function barFilled(page: Page): Promise<void> {
    // Polled from here: the page's CSP (rightly) forbids the eval a string predicate would need.
    await waitFor(
      async () => {
        const [fill, bar] = await Promise.all([
          page.locator('#progress-fill').boundingBox(),
          page.locator('#progress').boundingBox(),
        ]);
        return fill !== null && bar !== null && fill.width >= bar.width - 1;
      },
      { timeoutMs: 5_000, what: 'the progress bar to fill' },
    );
  }

  /** The page signs in as the local development user, who owns the builds it starts. */
  const pageUser = devUserId(LOCAL_DEV_USER);

  async function storedTimeline(sessionId: string): Promise<BuildEventView[]> {
    const response = await fetch(`${stack.gatewayUrl}/events?session_id=${sessionId}`, {
      headers: signedIn(pageUser),
    });
    return (await response.json()) as BuildEventView[];
  }

  it('starts a build from the page and shows it live to the end: timeline, ghost cursor, progress, summary', async () => {
    const page = await openPage(`${stack.gatewayUrl}/`);
    // Building needs a user: the local dev sign-in gets a token for the local development user.
    await page.click('#build-button');
    await page.waitForSelector('#form-error:has-text("sign in first")');
    await page.click('#dev-sign-in');
    await page.waitForSelector('#signed-in-as:has-text("Signed in as the local dev user")');
    await page.selectOption('#template', 'marketplace');
    await page.click('#build-button');

    // Live while it builds: the ghost cursor names a step and what it focuses on, the progress bar moves.
    await page.waitForSelector('#ghost-step:not(:text("waiting for the first step"))', { timeout: 30_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    const focused = await page
      .waitForSelector('#ghost-focus:not([hidden])', { timeout: 10_000 })
      .then(() => true)
      .catch(() => false);
    // The focus shows for a fraction of a second per table or policy; a picture of it, when caught, shows it.
    if (focused) await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-building.png'), fullPage: true });
    await page.waitForSelector('body[data-build-status="succeeded"]', { timeout: 60_000 });
    await page.waitForSelector('#summary:not([hidden])');
    await waitFor(async () => (await page.locator('#progress-label').textContent()) === '100%', {
      timeoutMs: 5_000,
      what: 'progress 100%',
    });

    const sessionId = (await page.locator('#session-id').textContent())?.trim() ?? '';
    const stored = await storedTimeline(sessionId);
    const shown = await page.locator('#timeline li .type').allTextContents();
    // Every event of the build, once, in timeline order (the audit calls are there, folded away).
    expect(shown).toEqual(stored.map((event) => event.type));
    expect(shown.filter((type) => isTimelineEvent(type)).at(-1)).toBe('build_succeeded');
    expect(await page.textContent('#ghost-step')).toBe('finalize');
    expect(await page.getAttribute('#progress', 'aria-valuenow')).toBe('100');

    const summary = (await page.locator('#summary-body').textContent()) ?? '';
    expect(summary).toContain('Tables (4)');
    expect(summary).toContain('Policies (10)');
    expect(summary).toContain('orders_read_own');
    expect(summary).toContain('inspect_security_state');
    const rls = await page.locator('#tables-table tbody td:nth-child(2)').allTextContents();
    expect(rls).toEqual(['on', 'on', 'on', 'on']);

    // The verification matrix, where the build recorded one (outputs.verification): a row per table and operation.
    const session = (await (
      await fetch(`${stack.gatewayUrl}/sessions?id=${sessionId}`, { headers: signedIn(pageUser) })
    ).json()) as SessionView;
    const report = (session.outputs as { verification?: BuildVerification } | null)?.verification;
    if (report) {
      const rows = new Set(report.matrix.cells.map((cell) => `${cell.subject} ${cell.operation}`));
      expect(await page.locator('#verification tbody tr').count()).toBe(rows.size);
      expect(await page.locator('#verification').textContent()).toContain(report.passed ? 'Passed' : 'Failed');
    }

    await barFilled(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-build-succeeded.png'), fullPage: true });

    // The share link opens the same build read-only in another tab, after the fact: it catches up.
    const shareLink = await page.getAttribute('#share-link', 'href');
    const late = await openPage(`${stack.gatewayUrl}${shareLink}`);
    await late.waitForSelector('body[data-build-status="succeeded"]', { timeout: 30_000 });
    expect(await late.locator('#timeline li').count()).toBe(stored.length);
    expect(await late.isHidden('#compose')).toBe(true);
    await barFilled(late);
    await late.screenshot({ path: path.join(ARTIFACTS, 'viewer-share-link.png'), fullPage: true });

    expect(problems).toEqual([]);
  });
});
