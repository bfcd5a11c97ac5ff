#!/usr/bin/env node
/**
 * Idle WebSocket clients for the wsmemory section, in their own process so their memory is not
 * counted as the server's. `node bench/lib/ws-clients.js <url> <networkIdHex>`; on stdin,
 * "open <n> [hello|pending]" opens n more connections (authenticated, or left before the hello)
 * and answers "ready <total>" on stdout once all are; stdin's end closes everything and exits.
 */
import { createInterface } from 'node:readline';

const [url, networkHex] = process.argv.slice(2);
const { WebSocket } = await import('ws');
const { Identity, nodeCrypto } = await import('../../dist/node/index.js');
const { wsHelloMessage } = await import('../../dist/node/signaling/index.js');
const networkId = Uint8Array.from(Buffer.from(networkHex, 'hex'));
const sockets = [];
const hex = (b) => Buffer.from(b).toString('hex');
let ip = 0;

/** One connection; resolves when authenticated (or, `pending`, once the challenge arrived). */
async function open(mode) {
  // Spread over 127.0.1.0/24 … so no single source address runs out of ports.
  const localAddress = `127.0.${1 + Math.floor(ip / 250)}.${1 + (ip % 250)}`;
  ip++;
  const identity = mode === 'hello' ? await Identity.generate({ crypto: nodeCrypto, difficulty: 0 }) : undefined;
  const ws = new WebSocket(url, { localAddress });
  sockets.push(ws);
  await new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('close', (code) => reject(new Error(`closed ${code}`)));
    ws.on('message', async (data) => {
      const msg = JSON.parse(String(data));
      if (msg.t === 'challenge') {
        if (!identity) return resolve();
        const signature = await identity.sign(wsHelloMessage(networkId, Uint8Array.from(Buffer.from(msg.challenge, 'hex'))));
        ws.send(JSON.stringify({ t: 'hello', publicKey: hex(identity.publicKey), signature: hex(signature) }));
      } else if (msg.t === 'welcome') resolve();
    });
  });
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [cmd, n, mode = 'hello'] = line.trim().split(/\s+/);
  if (cmd !== 'open') return;
  for (let done = 0; done < Number(n); ) {
    const batch = Math.min(200, Number(n) - done);
    await Promise.all(Array.from({ length: batch }, () => open(mode)));
    done += batch;
  }
  process.stdout.write(`ready ${sockets.length}\n`);
});
lines.on('close', () => {
  for (const ws of sockets) ws.terminate();
  process.exit(0);
});
