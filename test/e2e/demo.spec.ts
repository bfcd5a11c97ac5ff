/**
 * The demo page end to end, in real Chromium: two tabs (separate browser contexts, so separate
 * identities) join a swarm of a signaling server and Node peers started here, in the test process.
 * The routing table is drawn and listed with each contact's kind (tab, Node peer, signaling
 * server); a record put in one tab is found by the other tab and by Node peers (UDP + WebRTC, and
 * UDP only), with its owner named as a node; a delete from its owner's tab removes it everywhere;
 * a tab opened right after others closed can put and get within 2 s (its ID puzzle aside). The screenshot in the README
 * (docs/demo.png) is taken here: SPYDHT_UPDATE_SCREENSHOT=1 writes it.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { LocalSwarm } from 'spydht/node';
import { ROOT, assertBuilt } from '../helpers/build.js';
import { serveDemo, startSwarm, type DemoServer } from './swarm.js';

/** What the page exposes for tests (demo/main.ts). */
interface DemoWindow {
  spydht: { ready: Promise<{ id: string }>; usable: Promise<{ id: string }>; usableAt: number | undefined; timings: Record<string, number> };
}

const KEY = /^[0-9a-f]{64}$/;
const JOIN_MS = 30_000;
/** A tab must be usable (put and get enabled) this soon after it starts loading, its ID puzzle aside. */
const USABLE_MS = 2000;

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
  const timings = await page.evaluate(() => (window as unknown as DemoWindow).spydht.timings);
  console.log(`tab ${id.slice(0, 8)}: ${describeTimings(timings)}`);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'joined');
  await expect(page.getByTestId('node-id')).toHaveText(id);
  return { page, id };
}

/** "script 210 ms, node created 640 ms, usable 1010 ms, joined 2400 ms" (page clock, from navigation start). */
const describeTimings = (t: Record<string, number>): string =>
  Object.entries(t)
    .map(([step, ms]) => `${step} ${Math.round(ms)} ms`)
    .join(', ');

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

test('both tabs join: the table names the server, the other tab and Node peers, each reached its own way', async () => {
  const nodePeers = new Set(swarm.bridges.map((n) => n.id));
  const rows = (page: Page, kind: string): Promise<(string | null)[]> =>
    page.locator(`[data-testid="contact"][data-kind="${kind}"]`).evaluateAll((r) => r.map((e) => e.getAttribute('data-id')));
  for (const [page, otherId] of [
    [tabA, ids[1]!],
    [tabB, ids[0]!],
  ] as const) {
    // The server over the tab's WebSocket; the other tab and Node peers over WebRTC data channels.
    const server = page.locator(`[data-testid="contact"][data-id="${swarm.server.dht.id}"]`);
    await expect(server).toHaveAttribute('data-kind', 'server', { timeout: JOIN_MS });
    await expect(server).toHaveAttribute('data-transport', 'ws');
    await expect(server.getByTestId('contact-kind')).toHaveText('signaling server');
    await expect(server.getByTestId('contact-address')).toHaveText(`WebSocket · ${swarm.url}`);
    const other = page.locator(`[data-testid="contact"][data-id="${otherId}"]`);
    await expect(other, 'each tab lists the other: a verified round trip over a browser-to-browser data channel').toHaveAttribute('data-kind', 'tab', {
      timeout: JOIN_MS,
    });
    await expect(other.getByTestId('contact-kind')).toHaveText('tab');
    await expect.poll(async () => (await rows(page, 'node')).filter((id) => id !== null && nodePeers.has(id)).length, { timeout: JOIN_MS }).toBeGreaterThanOrEqual(1);
    // Every Node peer listed is one of the bridges, and shows as such.
    for (const id of await rows(page, 'node')) expect(nodePeers.has(id!)).toBe(true);
    const peerRow = page.locator('[data-testid="contact"][data-kind="node"]').first();
    await expect(peerRow.getByTestId('contact-kind')).toHaveText('Node peer');
    // A WebRTC contact is reached by its ID: its address column shows the data channel's IP, not the ID again.
    for (const row of [other, peerRow]) {
      const id = (await row.getAttribute('data-id'))!;
      const address = (await row.getByTestId('contact-address').textContent())!;
      expect(address).toMatch(/^data channel( · [0-9a-f.:]+)?$/);
      expect(address).not.toContain(id.slice(0, 8));
    }
    await expect(page.getByTestId('bucket').first()).toBeVisible();
    expect(Number(await page.getByTestId('contact-count').textContent())).toBeGreaterThanOrEqual(3);
  }
  // UDP-only peers cannot be reached from a browser, so no tab lists one.
  for (const udp of swarm.clients) {
    for (const page of [tabA, tabB]) await expect(page.locator(`[data-testid="contact"][data-id="${udp.id}"]`)).toHaveCount(0);
  }
});

test('the picture: one dot per contact, in the ring of its bucket, coloured by kind; hover shows details', async () => {
  const picture = tabA.getByTestId('routing-picture');
  await expect(picture).toBeVisible();
  // Same contacts as the table (the page redraws both from one snapshot; poll until they agree).
  await expect
    .poll(async () => {
      const table = await tabA.locator('[data-testid="contact"]').evaluateAll((r) => r.map((e) => `${e.getAttribute('data-id')}:${e.getAttribute('data-kind')}`).sort());
      const dots = await picture.getByTestId('mark').evaluateAll((r) => r.map((e) => `${e.getAttribute('data-id')}:${e.getAttribute('data-kind')}`).sort());
      return table.length > 0 && JSON.stringify(table) === JSON.stringify(dots);
    })
    .toBe(true);
  // A dot's ring is its bucket: the table's bucket of the same contact. Dots of contacts at nearly
  // the same distance overlap, so take one that no later dot covers (hovering it must reach it).
  await picture.scrollIntoViewIfNeeded();
  const id = await picture.getByTestId('mark').evaluateAll((marks) => {
    const uncovered = marks.find((m) => {
      const r = m.getBoundingClientRect();
      return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === m;
    });
    return uncovered?.getAttribute('data-id') ?? null;
  });
  if (id === null) throw new Error('every dot of the picture is covered by another');
  const first = picture.locator(`[data-testid="mark"][data-id="${id}"]`);
  const bucket = await tabA.locator(`[data-testid="bucket"]:has([data-testid="contact"][data-id="${id}"])`).getAttribute('data-index');
  await expect(first).toHaveAttribute('data-bucket', bucket!);
  await expect(first.locator('title')).toContainText(`bucket ${bucket}: shares its first ${bucket} bits with this node`);
  // Hovering a dot highlights its row.
  await first.hover();
  await expect(tabA.locator(`[data-testid="contact"][data-id="${id}"]`)).toHaveClass(/hover/);
  await expect(tabA.getByTestId('legend')).toContainText('signaling server');
});

test('a put in tab A is found by tab B and by Node peers; the owner is named as a node', async () => {
  const content = `hello from tab A at ${Date.now()}`;
  const key = await putFromPage(tabA, 'greeting', content);
  expect(await getFromPage(tabB, key)).toBe(content);
  // SHA-256 of the owner's public key is tab A's node ID: tab B names it as the tab it knows.
  await expect(tabB.getByTestId('get-owner')).toHaveAttribute('data-owner-id', ids[0]!);
  await expect(tabB.getByTestId('get-owner')).toHaveText(`owner: tab ${ids[0]!.slice(0, 12)}…`);
  expect(await getFromPage(tabA, key)).toBe(content);
  await expect(tabA.getByTestId('get-owner')).toHaveText('owner: this tab');
  for (const peer of [...swarm.bridges, ...swarm.clients]) {
    const value = await peer.get(key);
    expect(value?.text(), `Node peer ${peer.id.slice(0, 8)}`).toBe(content);
    expect(value?.labelText()).toBe('greeting');
  }
  // The README's screenshot: a tab that has put and got a record.
  const shot = test.info().outputPath('demo.png');
  await tabA.screenshot({ path: shot, fullPage: true });
  await test.info().attach('demo', { path: shot, contentType: 'image/png' });
  if (process.env.SPYDHT_UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(ROOT, 'docs', 'demo.png'));
});

test('a put by a UDP-only Node peer is found by a tab, its owner named by node ID', async () => {
  const content = `hello from a UDP-only Node peer at ${Date.now()}`;
  const client = swarm.clients[0]!;
  const key = await client.put('from-node', content, { ttl: 600 });
  expect(await getFromPage(tabB, key)).toBe(content);
  await expect(tabB.getByTestId('get-owner')).toHaveAttribute('data-owner-id', client.id);
  await expect(tabB.getByTestId('get-owner')).toHaveText(`owner: node ${client.id.slice(0, 12)}… (not in this tab's routing table)`);
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
  await expect(pages[0]!.locator(`[data-testid="contact"][data-id="${second}"]`)).toHaveAttribute('data-kind', 'tab', { timeout: JOIN_MS });
  await expect(pages[1]!.locator(`[data-testid="contact"][data-id="${first}"]`)).toHaveAttribute('data-kind', 'tab', { timeout: JOIN_MS });
  for (const p of pages) {
    const turnedAway = await p.evaluate(() => (window as unknown as { spydht: { node: { stats(): Record<string, number> } } }).spydht.node.stats().unadmittedNoIp ?? 0);
    expect(turnedAway).toBe(0);
  }
});

test('a tab opened right after other tabs closed can put and get within 2 s, its ID puzzle aside', async ({ browser }) => {
  test.setTimeout(120_000);
  // Two more tabs join the swarm, then close: the swarm still lists them for a while.
  const leaving = [await openTab(browser), await openTab(browser)];
  await Promise.all(leaving.map((t) => t.page.context().close()));
  // At once, a new tab.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  const query = new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) });
  await page.goto(`${demo.url}?${query}`);
  await page.evaluate(() => (window as unknown as DemoWindow).spydht.usable);
  const t = await page.evaluate(() => (window as unknown as DemoWindow).spydht.timings);
  console.log(`tab opened after 2 tabs closed: ${describeTimings(t)}`);
  // Everything but the ID puzzle: loading the page, connecting, the first contact, and no wait on
  // the tabs that just left. The puzzle is the network's price of an ID (geometric: ~0.7 s mean with
  // @noble on this 2-core machine, a long tail) and is reported, not bounded, here.
  expect(t.usable! - (t.identity! - t.scriptStart!)).toBeLessThanOrEqual(USABLE_MS);
  await expect(page.getByTestId('put-submit')).toBeEnabled();
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', /^(usable|joined)$/);
  // Usable means usable: a put from it reaches tab B, and it finds what tab A put.
  const started = Date.now();
  const content = `from the late tab at ${Date.now()}`;
  const key = await putFromPage(page, 'late', content);
  console.log(`its first put took ${Date.now() - started} ms`);
  expect(await getFromPage(tabB, key)).toBe(content);
  const fromA = await putFromPage(tabA, 'for-the-late-tab', 'hello, late tab');
  expect(await getFromPage(page, fromA)).toBe('hello, late tab');
  await page.evaluate(() => (window as unknown as DemoWindow).spydht.ready);
  console.log(`its join: ${describeTimings(await page.evaluate(() => (window as unknown as DemoWindow).spydht.timings))}`);
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
