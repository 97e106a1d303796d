// Headless Chromium for browser tests: Debian's chromium (apt package `chromium`, installed by
// .ci/run) driven by playwright-core. Playwright never downloads a browser here.
import { accessSync, constants } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type LaunchOptions,
  type Page,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** The Chromium executable: env CHROMIUM_PATH, else /usr/bin/chromium. */
export function chromiumPath(): string {
  return process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
}

/** Whether the Chromium executable exists and is executable. */
export function browserAvailable(): boolean {
  try {
    accessSync(chromiumPath(), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The flags every launch uses. --no-sandbox because CI runs as root; the networking flags keep
 * Chromium from calling Google's services, which this machine's closed network refuses.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Launches headless Chromium. Close it with `browser.close()` (e.g. in afterAll). */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!browserAvailable()) {
    throw new Error(
      `Chromium not found at ${executablePath}: install Debian's chromium (apt-get install chromium) ` +
        'or set CHROMIUM_PATH',
    );
  }
  return chromium.launch({
    ...options,
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}

/**
 * Registers the hooks a browser test suite needs and returns the shared browser: launched once
 * before the suite, closed after it. Without Chromium every test fails under CI (a missing
 * install step) and is skipped with the reason elsewhere. Call it first inside `describe`, so its
 * beforeEach runs before the suite's own.
 */
export function useChromium(): () => Browser {
  const missing = `Chromium not found at ${chromiumPath()} (install Debian's chromium or set CHROMIUM_PATH)`;
  let browser: Browser | undefined;
  beforeAll(async () => {
    if (browserAvailable()) browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach((ctx) => {
    if (browser) return;
    if (process.env.CI) throw new Error(`${missing}; the CI setup should have installed it`);
    ctx.skip(missing);
  });
  return () => browser as Browser;
}

/**
 * A fresh browser context (no cookies, no storage) and page for each test, closed after it, in the
 * browser of `useChromium`. Call it after `useChromium`, so its skip comes first.
 */
export function usePage(browser: () => Browser, options: BrowserContextOptions = {}): () => Page {
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  beforeEach(async () => {
    context = await browser().newContext(options);
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  return () => page as Page;
}
