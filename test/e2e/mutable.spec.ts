/**
 * One mutable key updated in turn by a Chromium tab (through the demo page's form), a Node bridge
 * (UDP + WebRTC), a UDP-only Node client (through its bridge) and the tab again; every member,
 * another tab included, reads each newest version. The tab's identity is the key's owner; the Node
 * peers sign with the same identity (one user on several devices: the seed exported from the tab).
 */
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { Identity, nodeCrypto, type LocalSwarm } from 'spydht/node';
import { assertBuilt } from '../helpers/build.js';
import { serveDemo, startSwarm, type DemoServer } from './swarm.js';

interface MutablePageNode {
  identity: { publicKey: Uint8Array; toJSON(): { version: 1; seed: string } };
  getMutable(publicKey: string, options: { salt: string }): Promise<{ seq: number; text(): string } | undefined>;
}
type MutableWindow = { spydht: { node: MutablePageNode; usable: Promise<unknown> } };

const SALT = 'status';
let swarm: LocalSwarm;
let demo: DemoServer;
const contexts: BrowserContext[] = [];

async function openTab(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${demo.url}?${new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) })}`);
  await page.evaluate(() => (window as unknown as MutableWindow).spydht.usable);
  return page;
}

const tabGet = (page: Page, publicKey: string): Promise<[number, string] | null> =>
  page.evaluate(
    ([pk, salt]) => (window as unknown as MutableWindow).spydht.node.getMutable(pk!, { salt: salt! }).then((v) => (v ? ([v.seq, v.text()] as [number, string]) : null)),
    [publicKey, SALT],
  );

test.describe.configure({ mode: 'serial' });

test.beforeAll(async () => {
  test.setTimeout(120_000);
  assertBuilt();
  [swarm, demo] = await Promise.all([startSwarm({ clients: 1 }), serveDemo()]);
});

test.afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close().catch(() => {})));
  await Promise.all([swarm?.close(), demo?.close()]);
});

test('a tab, a Node bridge, a UDP-only client and the tab again update one key; everyone reads the newest', async ({ browser }) => {
  test.setTimeout(180_000);
  const [tab, other] = [await openTab(browser), await openTab(browser)];

  // The tab writes seq 1 through the demo's form.
  await tab.getByTestId('mput-content').fill('from the tab');
  await tab.getByTestId('mput-submit').click();
  await expect(tab.getByTestId('mput-seq')).toHaveText('1', { timeout: 30_000 });

  const json = await tab.evaluate(() => (window as unknown as MutableWindow).spydht.node.identity.toJSON());
  const owner = Identity.fromJSON(nodeCrypto, json);
  const publicKey = Buffer.from(owner.publicKey).toString('hex');
  const readers = [...swarm.bridges, ...swarm.clients];
  const expectEveryone = async (seq: number, text: string): Promise<void> => {
    expect(await tabGet(other, publicKey)).toEqual([seq, text]);
    for (const [i, n] of readers.entries()) {
      const v = await n.getMutable(publicKey, { salt: SALT });
      expect([v?.seq, v?.text()], `Node reader ${i}`).toEqual([seq, text]);
    }
  };
  await expectEveryone(1, 'from the tab');

  // A Node bridge and a UDP-only client (through its bridge) write the next versions, each on condition.
  expect((await swarm.bridges[1]!.putMutable('from a Node bridge', { owner, salt: SALT, cas: 1 })).seq).toBe(2);
  await expectEveryone(2, 'from a Node bridge');
  expect((await swarm.clients[0]!.putMutable('from a UDP-only client', { owner, salt: SALT, cas: 2 })).seq).toBe(3);
  await expectEveryone(3, 'from a UDP-only client');

  // The tab reads seq 3 in its form; its put with the cas it last saw (1) is refused …
  await tab.getByTestId('mget-submit').click();
  await expect(tab.getByTestId('mget-seq')).toHaveText('3', { timeout: 30_000 });
  await expect(tab.getByTestId('mget-content')).toHaveText('from a UDP-only client');
  await expect(tab.getByTestId('mput-cas')).toHaveValue('1');
  await tab.getByTestId('mput-content').fill('stale write');
  await tab.getByTestId('mput-submit').click();
  await expect(tab.getByTestId('mput-result')).toContainText('CAS_CONFLICT', { timeout: 30_000 });
  // … and with the seq it just read, it goes through.
  await tab.getByTestId('mput-cas').fill('3');
  await tab.getByTestId('mput-content').fill('from the tab again');
  await tab.getByTestId('mput-submit').click();
  await expect(tab.getByTestId('mput-seq')).toHaveText('4', { timeout: 30_000 });
  await expectEveryone(4, 'from the tab again');
});
