/**
 * A new browser tab, in real Chromium (Playwright), joining a local swarm on this machine
 * (`startLocalSwarm`: the signaling server and Node bridges speaking UDP + WebRTC) through the
 * demo page, built by Vite as an app would build it. Tabs open one after another, each in a fresh
 * browser context (a new visitor: no identity, no saved contacts), and stay open, so each joins a
 * swarm holding the ones before it. Times are the page's own clock (performance.now(), from
 * navigation start) at each step the page records (demo/main.ts `timings`), plus "ready": the
 * first moment the tab's routing table held min(k, every other member) contacts, polled every 5 ms,
 * and when the last Node peer and the last earlier tab entered it.
 *
 * The ID puzzle runs in the page (a worker, default difficulty) and is reported apart: an app keeps
 * the identity in IndexedDB (the demo does), so only a visitor's first tab pays it. "From identity"
 * figures are the step times less the identity step.
 *
 * Needs Chromium (scripts/chromium.js finds it) and a non-loopback IPv4 address for the swarm
 * (Chromium's WebRTC never uses loopback). The page is opened at localhost, a secure context like
 * an app served over https, so it has WebCrypto; before 2026-12-03 it was opened at the LAN address,
 * plain http there, and ran every signature and the ID puzzle on @noble. `node bench/run.js --only tabs [--tabs 8] [--tab-bridges 3]`.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, log, table } from '../lib/format.js';
import { launchChromium } from '../lib/chromium.js';
import { buildAndServe } from '../lib/site.js';
import { summary } from '../lib/stats.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Routing-table size a tab counts as ready at (the engine's default k), or the whole swarm when smaller. */
const K = 20;
const JOIN_TIMEOUT_MS = 30_000;

/** The demo page, opened at localhost. */
async function serveDemo() {
  const site = await buildAndServe('demo', join(ROOT, 'demo'));
  return {
    // localhost: a secure context, as an app served over https is, so the page has WebCrypto
    // (native Ed25519, and the identity worker's fast search). The signaling URL stays on the LAN
    // address: WebRTC needs it, the page's own origin does not matter to ICE.
    url: `http://localhost:${site.port}/`,
    close: site.close,
  };
}

export async function measure({ quick, tabs: tabsArg, tabBridges }) {
  const { startLocalSwarm, lanAddress } = await import('../../dist/node/index.js');
  const host = lanAddress();
  if (!host) throw new Error('no non-loopback IPv4 address: Chromium would open no WebRTC link');
  const tabCount = Number(tabsArg ?? (quick ? 3 : 8));
  const bridges = Number(tabBridges ?? 3);

  log(`[tabs] starting the swarm (1 server, ${bridges} bridges) and building the demo page…`);
  const [swarm, demo] = await Promise.all([startLocalSwarm({ bridges, clients: 0 }), serveDemo()]);
  const browser = await launchChromium();
  const contexts = [];
  const tabs = [];
  /** IDs of the tabs opened so far (the first, unmeasured one included). */
  const tabIds = new Set();
  try {
    // A first tab, not measured: Chromium's own first-start costs (profile, GPU process, code
    // caches) are not a tab joining. It stays open, a member like the others: had it closed, the
    // swarm's tables would still name it for a while, and every later tab would wait on it.
    {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`${demo.url}?${new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) })}`);
      tabIds.add(await page.evaluate(() => window.spydht.ready.then((n) => n.id)));
    }
    for (let i = 0; i < tabCount; i++) {
      // Every other member: the server, the bridges, the first tab and the measured tabs before it.
      const others = 1 + bridges + 1 + i;
      const want = Math.min(K, others);
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      const errors = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${demo.url}?${new URLSearchParams({ signal: swarm.url, maxPerIp: String(swarm.maxPerIp) })}`);
      // Each poll also notes when each contact was first seen, to tell Node peers from tabs below.
      const readyAt = await page
        .waitForFunction(
          (n) => {
            const node = window.spydht?.node;
            if (!node) return false;
            const seen = (window.benchFirstSeen ??= {});
            for (const c of node.routing.contacts()) seen[c.id] ??= performance.now();
            return node.routing.size >= n ? performance.now() : false;
          },
          want,
          { polling: 5, timeout: JOIN_TIMEOUT_MS },
        )
        .then((h) => h.jsonValue());
      await page.evaluate(() => window.spydht.ready);
      const t = await page.evaluate(() => ({ ...window.spydht.timings, contacts: window.spydht.node.routing.size, id: window.spydht.node.id, seen: window.benchFirstSeen, stats: window.spydht.node.stats() }));
      const seenAt = (isTab) => Math.max(...Object.entries(t.seen).filter(([id]) => tabIds.has(id) === isTab).map(([, ms]) => ms));
      tabIds.add(t.id);
      const tab = {
        others,
        want,
        contactsAtJoined: t.contacts,
        scriptMs: t.scriptStart,
        identityMs: t.identity - t.scriptStart,
        connectedMs: t.connected,
        usableMs: t.usable,
        joinedMs: t.joined,
        readyMs: readyAt,
        // The last Node peer (server, bridges) and the last earlier tab to enter the table.
        lastNodePeerMs: seenAt(false),
        lastTabMs: seenAt(true),
        // Its WebRTC links by the end of its join: a retried or timed-out link is a slow contact.
        links: Object.fromEntries(['linksOpened', 'connectRetries', 'connectFailures', 'connectTimeouts', 'signalsSent'].map((c) => [c, t.stats[`webrtc.${c}`] ?? 0])),
        // Its requests by then: timeouts and retransmissions are waits inside the join.
        rpc: Object.fromEntries(['sent', 'received', 'retries', 'timeouts', 'hellosSent', 'skippedUnresponsive'].map((c) => [c, t.stats[c] ?? 0])),
        errors,
      };
      tabs.push(tab);
      log(`[tabs] tab ${i + 1}: ${want} contacts at ${fmt(readyAt, 0)} ms (identity ${fmt(tab.identityMs, 0)} ms, script ${fmt(t.scriptStart, 0)} ms, joined ${fmt(t.joined, 0)} ms)`);
    }
  } finally {
    await Promise.allSettled(contexts.map((c) => c.close()));
    await browser.close().catch(() => {});
    await Promise.allSettled([swarm.close(), demo.close()]);
  }
  const fromIdentity = (key) => tabs.map((t) => t[key] - t.identityMs);
  return {
    tabs,
    bridges,
    k: K,
    chromium: browser.version?.() ?? 'unknown',
    readyMs: summary(tabs.map((t) => t.readyMs)),
    readyFromIdentityMs: summary(fromIdentity('readyMs')),
    joinedMs: summary(tabs.map((t) => t.joinedMs)),
    joinedFromIdentityMs: summary(fromIdentity('joinedMs')),
    usableFromIdentityMs: summary(fromIdentity('usableMs')),
    identityMs: summary(tabs.map((t) => t.identityMs)),
    scriptMs: summary(tabs.map((t) => t.scriptMs)),
  };
}

/** Each counter of the tabs' `group` (links, rpc) summed over the tabs. */
const sumOver = (tabs, group) => tabs.reduce((sum, t) => Object.fromEntries(Object.entries(t[group] ?? {}).map(([c, v]) => [c, (sum[c] ?? 0) + v])), {});

export function report(r) {
  const rows = r.tabs.map((t, i) => [
    `tab ${i + 1} (${t.others} other members)`,
    fmt(t.scriptMs, 0),
    fmt(t.identityMs, 0),
    fmt(t.connectedMs, 0),
    fmt(t.usableMs, 0),
    fmt(t.joinedMs, 0),
    fmt(t.lastNodePeerMs, 0),
    fmt(t.lastTabMs, 0),
    `${fmt(t.readyMs, 0)} (${t.want})`,
    fmt(t.readyMs - t.identityMs, 0),
  ]);
  return [
    table(`A new browser tab joining: real Chromium ${r.chromium}, local swarm of 1 signaling server + ${r.bridges} bridges + the tabs before it (one unmeasured) (page clock, ms from navigation start)`, ['tab', 'script', 'ID puzzle', 'node created', 'first contact', 'joined', 'last Node peer in', 'last tab in', 'ready (contacts)', 'ready, identity in hand'], rows),
    `Ready (min(k = ${r.k}, every other member) contacts): median ${fmt(r.readyMs.median, 0)} ms, max ${fmt(r.readyMs.max, 0)} ms from navigation start; with the identity in hand ` +
      `(the ID puzzle step taken off) median ${fmt(r.readyFromIdentityMs.median, 0)} ms, max ${fmt(r.readyFromIdentityMs.max, 0)} ms. ` +
      `ID puzzle in the page (worker, default difficulty): median ${fmt(r.identityMs.median, 0)} ms, max ${fmt(r.identityMs.max, 0)} ms. ` +
      `By the end of each join, all tabs: WebRTC ${Object.entries(sumOver(r.tabs, 'links')).map(([c, v]) => `${c} ${v}`).join(', ')}; ` +
      `requests ${Object.entries(sumOver(r.tabs, 'rpc')).map(([c, v]) => `${c} ${v}`).join(', ')}.`,
  ];
}
