/**
 * Two signaling servers that share nothing, in real Chromium with the demo page: tabs spread over
 * both (each lists both, in opposite orders), every value is gettable from every tab; one server
 * stops: its tabs fail over to the other (the page shows which server it uses), every value is
 * still gettable from every tab, and a new tab that lists the stopped server first joins.
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import type { LocalSwarm } from 'spydht/node';
import { assertBuilt } from '../helpers/build.js';
import { serveDemo, startSwarm, type DemoServer, type DemoWindow } from './swarm.js';

interface Tab {
  context: BrowserContext;
  page: Page;
  id: string;
  /** The servers it lists, in order (0 = swarm.urls[0]). */
  order: number[];
}

let swarm: LocalSwarm;
let demo: DemoServer;
const tabs: Tab[] = [];
const values: { key: string; content: string }[] = [];

async function openTab(browser: Browser, order: number[]): Promise<Tab> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  const query = new URLSearchParams({ signal: order.map((i) => swarm.urls[i]).join(','), signalOrder: 'in-order', maxPerIp: String(swarm.maxPerIp) });
  await page.goto(`${demo.url}?${query}`);
  const id = await page.evaluate(() => (window as unknown as DemoWindow).spydht.ready.then((n) => n.id));
  return { context, page, id, order };
}

const tabPut = (t: Tab, label: string, content: string): Promise<string> =>
  t.page.evaluate(([l, c]) => (window as unknown as DemoWindow).spydht.node.put(l!, c!), [label, content]);
const tabGet = (t: Tab, key: string): Promise<string | null> =>
  t.page.evaluate((k) => (window as unknown as DemoWindow).spydht.node.get(k).then((v) => (v ? v.text() : null)), key);

async function everyValueEverywhere(): Promise<void> {
  for (const { key, content } of values) {
    for (const t of tabs) expect(await tabGet(t, key), `tab ${t.id.slice(0, 8)} gets "${content}"`).toBe(content);
  }
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  assertBuilt();
  [swarm, demo] = await Promise.all([startSwarm({ clients: 0, servers: 2 }), serveDemo()]);
  for (const order of [[0, 1], [1, 0], [0, 1], [1, 0]]) tabs.push(await openTab(browser, order));
});

test.afterAll(async () => {
  await Promise.all(tabs.map((t) => t.context.close().catch(() => {})));
  await Promise.all([swarm?.close(), demo?.close()]);
});

test('tabs spread over both servers, each showing its own, and every value is gettable from every tab', async () => {
  test.setTimeout(120_000);
  for (const t of tabs) await expect(t.page.getByTestId('signal-url')).toHaveText(swarm.urls[t.order[0]!]!);
  for (const [i, t] of tabs.entries()) {
    const content = `from tab ${i} on server ${t.order[0]}`;
    values.push({ key: await tabPut(t, `tab ${i}`, content), content });
  }
  await everyValueEverywhere();
});

test('one server stops: its tabs move to the other, every value is still gettable, and a new tab joins', async ({ browser }) => {
  test.setTimeout(180_000);
  await swarm.servers[0]!.close();
  // Every tab is on the server still up (those on it never left; the others failed over).
  for (const t of tabs) await expect(t.page.getByTestId('signal-url')).toHaveText(swarm.urls[1]!, { timeout: 30_000 });
  const moved = tabs.filter((t) => t.order[0] === 0);
  for (const t of moved) {
    const stats = await t.page.evaluate(() => (window as unknown as DemoWindow).spydht.node.stats());
    expect(stats['ws.linksLost']).toBe(1);
    expect(stats['ws.reconnects']).toBe(1);
  }
  await everyValueEverywhere();
  // A new tab that lists the stopped server first joins through the other, and finds everything.
  const late = await openTab(browser, [0, 1]);
  tabs.push(late);
  await expect(late.page.getByTestId('signal-url')).toHaveText(swarm.urls[1]!);
  const content = 'from the late tab';
  values.push({ key: await tabPut(late, 'late', content), content });
  await everyValueEverywhere();
});
