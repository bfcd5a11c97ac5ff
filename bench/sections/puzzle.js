/**
 * The ID puzzle as a first visit pays it: `generateIdentityInWorker` at the default difficulty in
 * real Chromium (Playwright), worker start included, on a page built by Vite. The same page is
 * opened at localhost, a secure context (`crypto.subtle`: the worker draws candidate keys from the
 * browser's own Ed25519), and at the LAN address over plain http, which is not one (@noble).
 * `node bench/run.js --only puzzle`.
 */
import { fileURLToPath } from 'node:url';
import { fmt, log, table } from '../lib/format.js';
import { launchChromium } from '../lib/chromium.js';
import { buildAndServe } from '../lib/site.js';
import { summary } from '../lib/stats.js';

const DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const PAGE = `
import { createWebCryptoBackend, generateIdentityInWorker, DEFAULT_ID_DIFFICULTY } from ${JSON.stringify(DIST)};
window.solve = async (n) => {
  const crypto = await createWebCryptoBackend();
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await generateIdentityInWorker({ crypto, difficulty: DEFAULT_ID_DIFFICULTY, maxWorkers: 1 });
    ms.push(performance.now() - t);
  }
  return { secure: isSecureContext, backend: crypto.name, difficulty: DEFAULT_ID_DIFFICULTY, ms };
};
window.loaded = true;
`;

export async function measure({ quick }) {
  const { lanAddress } = await import('../../dist/node/index.js');
  const samples = quick ? 10 : 40;
  const page = await buildAndServe('puzzle', { 'index.html': '<!doctype html><script type="module" src="./main.js"></script>', 'main.js': PAGE });
  const browser = await launchChromium();
  const origins = {};
  try {
    for (const [name, host] of [['localhost (secure)', 'localhost'], ['LAN address, plain http', lanAddress()]]) {
      if (!host) continue;
      const tab = await browser.newPage();
      await tab.goto(`http://${host}:${page.port}/`);
      await tab.waitForFunction(() => window.loaded === true);
      const r = await tab.evaluate((n) => window.solve(n), samples);
      origins[name] = { secure: r.secure, backend: r.backend, difficulty: r.difficulty, ms: summary(r.ms), meanMs: r.ms.reduce((a, b) => a + b, 0) / r.ms.length };
      log(`[puzzle] ${name}: secure ${r.secure}, mean ${fmt(origins[name].meanMs, 0)} ms, median ${fmt(origins[name].ms.median, 0)} ms over ${samples}`);
      await tab.close();
    }
  } finally {
    await browser.close();
    await page.close();
  }
  return { samples, origins };
}

export function report(r) {
  const rows = Object.entries(r.origins).map(([name, o]) => [name, String(o.secure), o.backend, fmt(o.meanMs, 0), fmt(o.ms.median, 0), fmt(o.ms.p95, 0), fmt(o.ms.max, 0)]);
  const difficulty = Object.values(r.origins)[0]?.difficulty;
  return [table(`ID puzzle in a Chromium worker, difficulty ${difficulty} (default), worker start included, ${r.samples} samples per origin`, ['page origin', 'secure context', 'page backend', 'mean ms', 'median ms', 'p95 ms', 'max ms'], rows)];
}
