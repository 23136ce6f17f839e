import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

/** Debian's chromium: the browser tests drive it; nothing downloads a browser build of its own. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Makes sure Debian's chromium is installed: as root (CI), `apt-get install -y chromium` when it is
 * missing, saying so on stderr; otherwise a clear error naming the command to run.
 */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`the browser tests need Debian's chromium at ${CHROMIUM}: run 'sudo apt-get install -y chromium' (or set CHROMIUM_PATH)`);
  }
  process.stderr.write(`test set-up: ${CHROMIUM} is missing; installing Debian's chromium with apt-get install -y chromium\n`);
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get install chromium did not provide ${CHROMIUM}`);
}

/** Headless chromium with the flags this machine's closed network needs and a fresh profile; close() removes the profile. */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<{ browser: BrowserContext; close: () => Promise<void> }> {
  ensureChromium();
  // A new empty profile each time (playwright passes it as --user-data-dir).
  const profile = mkdtempSync(join(tmpdir(), 'trailbot-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    close: async () => {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
