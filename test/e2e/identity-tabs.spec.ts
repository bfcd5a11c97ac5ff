/**
 * One identity per tab, kept across reloads, in real Chromium with the demo page (persistence is
 * its default): two tabs of one browser context are two nodes that link to each other, a reload
 * keeps its ID, a duplicated tab (its sessionStorage copied from a live tab) gets an ID of its own
 * and the original keeps its own, and the server never replaces one tab's connection by another's.
 * The page is plain http on a LAN address, so there are no Web Locks: the IndexedDB claims alone.
 */
import { expect, test, type BrowserContext, type Page } from '@playwright/test';
import type { LocalSwarm } from 'spydht/node';
import { assertBuilt } from '../helpers/build.js';
import { serveDemo, startSwarm, type DemoServer, type DemoWindow } from './swarm.js';

let swarm: LocalSwarm;
let demo: DemoServer;
let context: BrowserContext;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(120_000);
  assertBuilt();
  [swarm, demo] = await Promise.all([startSwarm({ clients: 0 }), serveDemo()]);
  context = await browser.newContext();
});

test.afterAll(async () => {
  await context?.close().catch(() => {});
  await Promise.all([swarm?.close(), demo?.close()]);
});

const pageUrl = (): string => `${demo.url}?${new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) })}`;
const idOf = (page: Page): Promise<string> => page.evaluate(() => (window as unknown as DemoWindow).spydht.ready.then((n) => n.id));
const has = (page: Page, id: string): Promise<boolean> => page.evaluate((i) => (window as unknown as DemoWindow).spydht.node.routing.has(i), id);

/** How many saved contact lists in the page's IndexedDB (database spydht, store kv) name `id`. */
function savedListsWith(page: Page, id: string): Promise<number> {
  return page.evaluate(
    (want) =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('spydht');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction('kv', 'readonly');
          const req = tx.objectStore('kv').openCursor();
          let n = 0;
          req.onsuccess = () => {
            const cursor = req.result;
            if (!cursor) {
              db.close();
              return resolve(n);
            }
            if (String(cursor.key).endsWith('/contacts') && String(cursor.value).includes(want)) n++;
            cursor.continue();
          };
          req.onerror = () => reject(req.error);
        };
      }),
    id,
  );
}

async function open(init?: (page: Page) => Promise<unknown>): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await init?.(page);
  await page.goto(pageUrl());
  return page;
}

const pages: Page[] = [];
const ids: string[] = [];

test('two tabs of one browser context, opened one after the other, are two nodes that link to each other', async () => {
  test.setTimeout(90_000);
  pages.push(await open());
  ids.push(await idOf(pages[0]!));
  pages.push(await open());
  ids.push(await idOf(pages[1]!));
  expect(ids[0]).toMatch(/^[0-9a-f]{64}$/);
  expect(ids[1]).not.toBe(ids[0]);
  // Each finds the other and keeps it as a contact (over WebRTC: a tab has no other way to a tab).
  for (const [page, other] of [[pages[0]!, ids[1]!], [pages[1]!, ids[0]!]] as const) {
    await expect
      .poll(async () => (await page.evaluate((i) => (window as unknown as DemoWindow).spydht.node.findNode(i), other)).map((c) => c.id), { timeout: 30_000 })
      .toContain(other);
    await expect.poll(() => has(page, other), { timeout: 15_000 }).toBe(true);
  }
});

test('a reload keeps its ID, every time, and rejoins at once as a working member (its saved contacts first)', async () => {
  test.setTimeout(90_000);
  for (let i = 0; i < 3; i++) {
    // Its contacts are saved next to its identity (a second after a new one): the list that has
    // the other tab in it is this tab's (a node is never in its own list).
    await expect.poll(() => savedListsWith(pages[1]!, ids[0]!), { timeout: 15_000 }).toBeGreaterThan(0);
    await pages[1]!.reload();
    expect(await idOf(pages[1]!)).toBe(ids[1]);
    // The server admits the returning ID straight away, and the tab reaches the other tab again.
    await expect.poll(() => swarm.server.dht.routing.has(ids[1]!), { timeout: 15_000 }).toBe(true);
    await expect
      .poll(async () => (await pages[1]!.evaluate((id) => (window as unknown as DemoWindow).spydht.node.findNode(id), ids[0]!)).map((c) => c.id), { timeout: 30_000 })
      .toContain(ids[0]);
    expect(await pages[1]!.evaluate(() => (window as unknown as DemoWindow).spydht.node.stats().joinedFromSavedContacts)).toBe(1);
  }
  await pages[0]!.reload();
  expect(await idOf(pages[0]!)).toBe(ids[0]);
  await expect(pages[0]!.getByTestId('node-id')).toHaveText(ids[0]!);
});

test('a duplicated tab (sessionStorage copied from a live tab) gets its own ID; the original keeps its own', async () => {
  test.setTimeout(60_000);
  const copied = await pages[0]!.evaluate(() => JSON.stringify(Object.fromEntries(Object.entries(sessionStorage))));
  expect(copied).toContain('spydht/identity-slot');
  // Chromium's "Duplicate tab" hands the new tab a copy of the session storage before its page
  // runs; an init script gives a new tab the same copy.
  const dup = await open((page) =>
    page.addInitScript((entries) => {
      if (sessionStorage.length === 0) for (const [k, v] of Object.entries(JSON.parse(entries) as Record<string, string>)) sessionStorage.setItem(k, v);
    }, copied),
  );
  pages.push(dup);
  const dupId = await idOf(dup);
  expect(ids).not.toContain(dupId);
  // The original still holds its slot: a reload of it comes back with its own ID, not the copy's.
  await pages[0]!.reload();
  expect(await idOf(pages[0]!)).toBe(ids[0]);
  await dup.reload();
  expect(await idOf(dup)).toBe(dupId);
});

test('the server never replaced one tab by another with the same ID', () => {
  expect(swarm.server.stats().closes[4008] ?? 0).toBe(0);
});

test('in a secure context (localhost) each tab also holds its slot as a Web Lock; two tabs, two IDs, a reload keeps its own', async () => {
  test.setTimeout(90_000);
  // Another origin, so other storage: the page at localhost (a secure context, with navigator.locks)
  // still signals through the server at the LAN address.
  const local = await context.newPage();
  const url = new URL(pageUrl());
  url.hostname = 'localhost';
  await local.goto(url.toString());
  const first = await idOf(local);
  const second = await context.newPage();
  await second.goto(url.toString());
  const other = await idOf(second);
  expect(other).not.toBe(first);
  const held = await local.evaluate(async () => (await navigator.locks.query()).held?.map((l) => l.name).sort());
  expect(held).toEqual(['spydht/identity-slot/0', 'spydht/identity-slot/1']);
  await second.reload();
  expect(await idOf(second)).toBe(other);
  await Promise.all([local.close(), second.close()]);
});
