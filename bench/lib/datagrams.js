/**
 * One wrapper around every UDP send in this process, for the side-by-side comparison: it counts
 * each datagram handed to `dgram.Socket#send` and drops a seeded share of them. Both
 * implementations send through node:dgram (spydht's UdpTransport, bittorrent-dht's k-rpc-socket),
 * so wrapping the prototype counts and loses the same thing for both, below either library's own
 * bookkeeping. A dropped datagram counts as sent (it left the sender; the network lost it), and its
 * callback is called as the kernel would, so neither library can tell it apart from a real loss.
 */
import dgram from 'node:dgram';

/**
 * Installs the wrapper (once per process) and returns its controls: `sent` and `dropped` so far,
 * and `setLoss(p)` to drop each later datagram with probability p, drawn from `random` (seeded).
 */
export function wrapDatagrams(random) {
  const proto = dgram.Socket.prototype;
  if (proto.send.benchWrapped) throw new Error('datagrams are wrapped already in this process');
  const send = proto.send;
  const counts = { sent: 0, dropped: 0, loss: 0 };
  function wrappedSend(...args) {
    counts.sent++;
    if (counts.loss > 0 && random() < counts.loss) {
      counts.dropped++;
      const callback = args.findLast((a) => typeof a === 'function');
      if (callback) process.nextTick(callback, null, 0);
      return;
    }
    return send.apply(this, args);
  }
  wrappedSend.benchWrapped = true;
  proto.send = wrappedSend;
  return {
    get sent() {
      return counts.sent;
    },
    get dropped() {
      return counts.dropped;
    },
    setLoss(p) {
      counts.loss = p;
    },
  };
}
