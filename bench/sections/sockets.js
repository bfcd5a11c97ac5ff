/**
 * Control for the UDP section's memory figure: what 50 bare dgram sockets with similar traffic
 * cost in RSS, with no DHT at all. Its figure appears in the UDP section's report.
 */
import { fmt, log } from '../lib/format.js';
import { settleMemory } from '../lib/memory.js';

export async function measure() {
  const dgram = await import('node:dgram');
  const { seededRandom, randomIndex } = await import('../../dist/index.js');
  const N = 50;
  const mem0 = await settleMemory();
  const socks = [];
  for (let i = 0; i < N; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    let echoes = 0;
    s.on('message', (m, from) => {
      if (echoes++ < 200) s.send(m, from.port, from.address);
    });
    socks.push(s);
  }
  // ~10,000 datagrams of 300 bytes and their echoes, about what joining and a round of gets send.
  const rand = seededRandom(5);
  for (let r = 0; r < 200; r++) {
    for (const s of socks) s.send(Buffer.alloc(300), socks[randomIndex(rand, N)].address().port, '127.0.0.1');
    if (r % 20 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  await new Promise((r) => setTimeout(r, 500));
  const mem1 = await settleMemory();
  await Promise.all(socks.map((s) => new Promise((r) => s.close(r))));
  const result = { sockets: N, rssKiBPerSocket: (mem1.rss - mem0.rss) / 1024 / N, heapUsedKiBPerSocket: (mem1.heapUsed - mem0.heapUsed) / 1024 / N };
  log(`[sockets] bare dgram socket: ${fmt(result.rssKiBPerSocket, 0)} KiB RSS each`);
  return result;
}
