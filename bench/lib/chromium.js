/**
 * Headless Chromium for the sections that open pages (tabs, puzzle): the machine's Chromium
 * (scripts/chromium.js finds it) with the flags of playwright.config.ts (see there why).
 */
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-features=WebRtcHideLocalIpsWithMdns'];

export async function launchChromium() {
  const { chromium } = await import('@playwright/test');
  const { chromiumPath } = await import('../../scripts/chromium.js');
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}
