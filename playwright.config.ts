/**
 * Browser end-to-end tests (test/e2e), in the Chromium `npm test` found or installed (CHROMIUM_PATH;
 * run alone, the same search in scripts/chromium.js: the system's Chromium or Chrome, or
 * Playwright's cache). Each spec starts what it needs in the test process (signaling server, Node
 * peers, the built demo page): see test/e2e/swarm.ts. Run `npm run build` first (`npm test` does).
 */
import { defineConfig } from '@playwright/test';
import { chromiumPath } from './scripts/chromium.js';

export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '**/*.spec.ts',
  // Two cores, and every spec runs a swarm plus several browser tabs.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: chromiumPath(),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Real IPs in ICE candidates instead of mDNS .local names: Chromium <-> node-datachannel
        // connects failed ~2 of 45 times with mDNS host candidates and 0 of 20 without (measured
        // on our 2-core test machine). Tab-to-tab links work either way.
        '--disable-features=WebRtcHideLocalIpsWithMdns',
      ],
    },
    actionTimeout: 15_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
