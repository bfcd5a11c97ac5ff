/**
 * The demo page end to end, in real Chromium: two tabs (separate browser contexts, so separate
 * identities) join a swarm of a signaling server and Node peers started here, in the test process.
 * A record put in one tab is found by the other tab and by Node peers (UDP + WebRTC, and UDP only);
 * one put by a Node peer is found by a tab; a delete from its owner's tab removes it everywhere.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { LocalSwarm } from 'spydht/node';
import { assertBuilt } from '../helpers/build.js';
import { serveDemo, startSwarm, type DemoServer } from './swarm.js';

/** What the page exposes for tests (demo/main.ts). */
interface DemoWindow {
  spydht: { ready: Promise<{ id: string }> };
}

const KEY = /^[0-9a-f]{64}$/;
const JOIN_MS = 30_000;

// Tests share one swarm and two tabs (beforeAll), and each stands on its own: after a failure the
// worker restarts, beforeAll runs again, and the remaining tests still run.

let swarm: LocalSwarm;
let demo: DemoServer;
const contexts: BrowserContext[] = [];
let tabA: Page;
let tabB: Page;
const ids: string[] = [];

async function openTab(browser: Browser): Promise<{ page: Page; id: string }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.error(`[page console] ${msg.text()}`);
  });
  const query = new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) });
  await page.goto(`${demo.url}?${query}`);
  // Rejects (and fails the test with the page's error) if the node cannot join.
  const id = await page.evaluate(() => (window as unknown as DemoWindow).spydht.ready.then((n) => n.id));
  expect(id).toMatch(KEY);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'joined');
  await expect(page.getByTestId('node-id')).toHaveText(id);
  return { page, id };
}

/** Puts through the page's form; returns the key it shows. */
async function putFromPage(page: Page, label: string, content: string, ttl = 600): Promise<string> {
  await page.getByTestId('put-label').fill(label);
  await page.getByTestId('put-content').fill(content);
  await page.getByTestId('put-ttl').fill(String(ttl));
  await page.getByTestId('put-submit').click();
  await expect(page.getByTestId('put-result')).toHaveAttribute('data-state', 'ok', { timeout: JOIN_MS });
  const key = (await page.getByTestId('put-key').textContent()) ?? '';
  expect(key).toMatch(KEY);
  return key;
}

/** Gets through the page's form; returns the content shown, or undefined for "not found". */
async function getFromPage(page: Page, key: string): Promise<string | undefined> {
  await page.getByTestId('get-key').fill(key);
  await page.getByTestId('get-submit').click();
  const result = page.getByTestId('get-result');
  await expect(result).toHaveAttribute('data-state', /^(ok|missing|error)$/, { timeout: JOIN_MS });
  const state = await result.getAttribute('data-state');
  if (state === 'error') throw new Error(`get failed in the page: ${await result.textContent()}`);
  if (state === 'missing') {
    await expect(result).toHaveText('not found');
    return undefined;
  }
  return (await page.getByTestId('get-content').textContent()) ?? '';
}

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  assertBuilt();
  [swarm, demo] = await Promise.all([startSwarm({ clients: 1 }), serveDemo()]);
  const a = await openTab(browser);
  const b = await openTab(browser);
  tabA = a.page;
  tabB = b.page;
  ids.push(a.id, b.id);
});

test.afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await Promise.all([swarm?.close(), demo?.close()]);
});

test('both tabs join: the routing table shows the server, the other tab and Node peers', async () => {
  const nodePeers = new Set(swarm.bridges.map((n) => n.id));
  const webrtcRows = (page: Page): Promise<(string | null)[]> =>
    page.locator('[data-testid="contact"][data-transport="WebRTC"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
  for (const [page, otherId] of [
    [tabA, ids[1]!],
    [tabB, ids[0]!],
  ] as const) {
    // The server over the tab's WebSocket; the other tab and Node peers over WebRTC data channels.
    const server = page.locator(`[data-testid="contact"][data-id="${swarm.server.dht.id}"]`);
    await expect(server).toHaveAttribute('data-transport', 'WebSocket', { timeout: JOIN_MS });
    const other = page.locator(`[data-testid="contact"][data-id="${otherId}"]`);
    await expect(other, 'each tab lists the other: a verified round trip over a browser-to-browser data channel').toHaveAttribute('data-transport', 'WebRTC', {
      timeout: JOIN_MS,
    });
    await expect
      .poll(async () => (await webrtcRows(page)).filter((id) => id !== null && nodePeers.has(id)).length, { timeout: JOIN_MS })
      .toBeGreaterThanOrEqual(1);
    await expect(page.getByTestId('bucket').first()).toBeVisible();
    expect(Number(await page.getByTestId('contact-count').textContent())).toBeGreaterThanOrEqual(3);
  }
  // UDP-only peers cannot be reached from a browser, so no tab lists one.
  for (const udp of swarm.clients) {
    for (const page of [tabA, tabB]) await expect(page.locator(`[data-testid="contact"][data-id="${udp.id}"]`)).toHaveCount(0);
  }
});

test('a put in tab A is found by tab B and by Node peers', async () => {
  const content = `hello from tab A at ${Date.now()}`;
  const key = await putFromPage(tabA, 'greeting', content);
  expect(await getFromPage(tabB, key)).toBe(content);
  for (const peer of [...swarm.bridges, ...swarm.clients]) {
    const value = await peer.get(key);
    expect(value?.text(), `Node peer ${peer.id.slice(0, 8)}`).toBe(content);
    expect(value?.labelText()).toBe('greeting');
  }
  await tabA.screenshot({ path: '/tmp/demo.png', fullPage: true });
  await test.info().attach('demo', { path: '/tmp/demo.png', contentType: 'image/png' });
});

test('a put by a UDP-only Node peer is found by a tab', async () => {
  const content = `hello from a UDP-only Node peer at ${Date.now()}`;
  const key = await swarm.clients[0]!.put('from-node', content, { ttl: 600 });
  expect(await getFromPage(tabB, key)).toBe(content);
});

test('the owner tab deletes: gone for the other tab and the Node peers; others may not delete', async () => {
  const key = await putFromPage(tabA, 'short-lived', `delete me ${Date.now()}`);
  // Tab B does not own it.
  await tabB.getByTestId('delete-key').fill(key);
  await tabB.getByTestId('delete-submit').click();
  await expect(tabB.getByTestId('delete-result')).toHaveAttribute('data-state', 'error', { timeout: JOIN_MS });
  await expect(tabB.getByTestId('delete-result')).toContainText('NOT_OWNER');

  await tabA.getByTestId('delete-key').fill(key);
  await tabA.getByTestId('delete-submit').click();
  await expect(tabA.getByTestId('delete-result')).toHaveAttribute('data-state', 'ok', { timeout: JOIN_MS });
  await expect(tabA.getByTestId('delete-result')).toHaveText(/^deleted: [1-9]\d* nodes? accepted$/);
  expect(await getFromPage(tabB, key)).toBeUndefined();
  expect(await swarm.bridges[0]!.get(key)).toBeUndefined();
});

test('two tabs opened at the same instant list each other, none turned away for want of an IP', async ({ browser }) => {
  test.setTimeout(60_000);
  // A browser-to-browser pair of host candidates shows no address (mDNS): each tab counts the
  // other under its own address as the server saw it, at the first verified round trip.
  const query = new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) });
  const pages: Page[] = [];
  for (let i = 0; i < 2; i++) {
    const context = await browser.newContext();
    contexts.push(context);
    pages.push(await context.newPage());
  }
  await Promise.all(pages.map((p) => p.goto(`${demo.url}?${query}`)));
  const [first, second] = await Promise.all(pages.map((p) => p.evaluate(() => (window as unknown as DemoWindow).spydht.ready.then((n) => n.id))));
  await expect(pages[0]!.locator(`[data-testid="contact"][data-id="${second}"]`)).toHaveAttribute('data-transport', 'WebRTC', { timeout: JOIN_MS });
  await expect(pages[1]!.locator(`[data-testid="contact"][data-id="${first}"]`)).toHaveAttribute('data-transport', 'WebRTC', { timeout: JOIN_MS });
  for (const p of pages) {
    const turnedAway = await p.evaluate(() => (window as unknown as { spydht: { node: { stats(): Record<string, number> } } }).spydht.node.stats().unadmittedNoIp ?? 0);
    expect(turnedAway).toBe(0);
  }
});

test('the message log shows traffic both ways, bounded', async () => {
  const lines = tabA.getByTestId('message-log').getByTestId('log-line');
  await expect(lines.first()).toBeVisible();
  const count = await lines.count();
  expect(count).toBeGreaterThan(0);
  expect(count).toBeLessThanOrEqual(200);
  await expect(tabA.locator('[data-testid="log-line"][data-direction="in"]').first()).toBeAttached();
  await expect(tabA.locator('[data-testid="log-line"][data-direction="out"]').first()).toBeAttached();
  // Enough lookups to overflow the log: it keeps the newest 200 lines.
  for (let i = 0; i < 20 && (await lines.count()) < 200; i++) await getFromPage(tabA, '00'.repeat(32));
  await expect(lines).toHaveCount(200);
});
