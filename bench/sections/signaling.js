/**
 * The signaling server's share of WebRTC signaling. Real WebRTC (node-datachannel), real
 * WebSocket, real UDP on 127.0.0.1: the server, 3 Node bridges, then browser-like nodes (the code
 * a tab runs, createBrowserNode, with node-datachannel and ws injected) joining one at a time; then,
 * the swarm formed, 3 more bridges join through a member and every browser-like node looks each up;
 * then 2 browser-like nodes leave and the rest look up random IDs twice.
 */
import { performance } from 'node:perf_hooks';
import { fmt, log, table } from '../lib/format.js';
import { sumOf } from '../lib/nodes.js';
import { summary } from '../lib/stats.js';

export async function measure({ quick }) {
  const { createBrowserNode, createNode, reachableAddresses, startSignalingServer, nodeCrypto, Identity, inThreadPowSolver, seededRandom, randomIndex } = await import(
    '../../dist/node/index.js'
  );
  const { RTCPeerConnection } = await import('node-datachannel/polyfill');
  const { WebSocket } = await import('ws');
  const TABS = quick ? 6 : 12;
  const LATE = 3;
  const network = { name: 'bench-signaling', idDifficulty: 4, powBaseBits: 8 };
  const server = await startSignalingServer({ host: '127.0.0.1', port: 0, network, webrtc: true, crypto: nodeCrypto, dht: { maxPerIp: 64 }, logger: () => {} });
  const bridges = [];
  const tabs = [];
  const members = () => [server.dht, ...bridges, ...tabs];
  const links = () => sumOf(members(), 'webrtc.linksOpened') / 2;
  const envelopes = () => sumOf(members(), 'webrtc.signalsSent');
  const relayed = () => server.dht.stats().signalsRelayed ?? 0;
  const mark = () => ({ links: links(), envelopes: envelopes(), relayed: relayed() });
  const phase = (from, label) => {
    const to = mark();
    const newLinks = to.links - from.links;
    return { label, newLinks, envelopes: to.envelopes - from.envelopes, serverRelayed: to.relayed - from.relayed, envelopesPerLink: (to.envelopes - from.envelopes) / newLinks, serverPerLink: (to.relayed - from.relayed) / newLinks };
  };
  try {
    for (let i = 0; i < 3; i++) bridges.push(await createNode({ host: '127.0.0.1', network, webrtc: true, maxPerIp: 64, bootstrap: [server.udpAddress] }));
    log(`[signaling] ${TABS} browser-like nodes joining one at a time…`);
    const beforeJoins = mark();
    const joinMs = [];
    for (let i = 0; i < TABS; i++) {
      const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: network.idDifficulty });
      const t0 = performance.now();
      tabs.push(
        await createBrowserNode({ signalingUrl: server.url, network, identityStorage: false, identity, crypto: nodeCrypto, powSolver: inThreadPowSolver(nodeCrypto), maxPerIp: 64, RTCPeerConnection, WebSocket }),
      );
      joinMs.push(performance.now() - t0);
    }
    const joins = phase(beforeJoins, `${TABS} browser-like nodes join through the server`);
    const beforeLate = mark();
    const lookupMs = [];
    for (let i = 0; i < LATE; i++) {
      const late = await createNode({ host: '127.0.0.1', network, webrtc: true, maxPerIp: 64, bootstrap: [reachableAddresses(bridges[0])[0]] });
      bridges.push(late);
      for (const t of tabs) {
        const t0 = performance.now();
        await t.findNode(late.id);
        lookupMs.push(performance.now() - t0);
      }
    }
    const formed = phase(beforeLate, `formed swarm: ${LATE} bridges join through a member, every browser-like node looks each up`);
    // Churn: two browser-like nodes leave without a word; the rest keep looking things up while
    // the dead contacts are still in their tables.
    const gone = tabs.splice(0, 2);
    await Promise.all(gone.map((t) => t.close()));
    const churnMs = [[], []];
    const rand = seededRandom(11);
    for (const round of churnMs) {
      for (const t of tabs) {
        const target = Array.from({ length: 32 }, () => randomIndex(rand, 256).toString(16).padStart(2, '0')).join('');
        const t0 = performance.now();
        await t.findNode(target);
        round.push(performance.now() - t0);
      }
    }
    const result = {
      tabs: TABS,
      network,
      joins: { ...joins, perJoin: joins.serverRelayed / TABS, joinMs: summary(joinMs) },
      formed: { ...formed, lookupMs: summary(lookupMs) },
      churn: { left: gone.length, firstLookupMs: summary(churnMs[0]), secondLookupMs: summary(churnMs[1]) },
    };
    log(`[signaling] server relayed ${fmt(result.joins.perJoin, 1)} envelopes per join, ${fmt(formed.serverPerLink, 2)} per new link once formed`);
    return result;
  } finally {
    await Promise.all([...tabs, ...bridges].map((n) => n.close()));
    await server.close();
  }
}

export function report(g) {
  return [
    table(
      "WebRTC signaling: envelopes per new link and the signaling server's share (real WebRTC, WebSocket, UDP on 127.0.0.1)",
      ['phase', 'new links', 'envelopes', 'envelopes/link', 'relayed by server', 'server/link'],
      [g.joins, g.formed].map((p) => [p.label, p.newLinks, p.envelopes, fmt(p.envelopesPerLink, 2), p.serverRelayed, fmt(p.serverPerLink, 2)]),
    ),
    `The server relayed ${fmt(g.joins.perJoin, 1)} envelopes per joining node (its first links, whatever the swarm's size); 2.00 per link would mean it carried all of them. ` +
      `Join (createBrowserNode → bootstrapped) median ${fmt(g.joins.joinMs.median, 0)} ms, p95 ${fmt(g.joins.joinMs.p95, 0)} ms; findNode of a new bridge median ${fmt(g.formed.lookupMs.median, 0)} ms, p95 ${fmt(g.formed.lookupMs.p95, 0)} ms; ` +
      `right after ${g.churn.left} browser-like nodes left, each node's first findNode of a random ID: median ${fmt(g.churn.firstLookupMs.median, 0)} ms, p95 ${fmt(g.churn.firstLookupMs.p95, 0)} ms (it waits out the departed), ` +
      `its second: median ${fmt(g.churn.secondLookupMs.median, 0)} ms, p95 ${fmt(g.churn.secondLookupMs.p95, 0)} ms (timed-out peers are skipped for 30 s).`,
  ];
}
