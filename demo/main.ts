/**
 * The spydht demo page: a full DHT node in this tab. It joins through a signaling server
 * (?signal=ws://host:port, several as ?signal=url1,url2 or repeated: one is picked at random, the
 * others are its failover; default ws://<this page's host>:8787), then draws its routing table,
 * offers put / get / delete, and logs every message it sends or receives.
 *
 * Other query parameters: ?network=<name> (must match the swarm's), ?maxPerIp=<n> (routing
 * entries per IP; raise it when every peer runs on one machine), ?persist=0 (a new identity on
 * every load; by default each tab keeps its own across reloads), ?signalOrder=in-order (try the
 * servers as listed instead of at random).
 *
 * For tests: window.spydht = { node, ready }, and data-testid attributes on everything.
 */
import { createBrowserNode, isSpydhtError, type ContactInfo, type DHT, type DHTMessageEvent, type NetworkOptions } from 'spydht';

const LOG_LINES = 200;
const TRANSPORTS: Record<number, string> = { 1: 'UDP', 2: 'sim', 3: 'WebRTC', 4: 'WebSocket' };

declare global {
  interface Window {
    spydht: { node: DHT | undefined; ready: Promise<DHT> };
  }
}

// ---------------------------------------------------------------------------------------------
// Settings from the URL

const params = new URLSearchParams(location.search);
const listed = params.getAll('signal').flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
const signalingUrls = listed.length ? listed : [`ws://${location.hostname || 'localhost'}:8787`];
const signalingUrl = signalingUrls.join(', ');
const network: NetworkOptions | undefined = params.get('network') ? { name: params.get('network')! } : undefined;
const maxPerIp = Number(params.get('maxPerIp')) || undefined;
const persist = params.get('persist') !== '0';

// ---------------------------------------------------------------------------------------------
// DOM helpers

function $<T extends HTMLElement = HTMLElement>(testId: string): T {
  const el = document.querySelector<T>(`[data-testid="${testId}"]`);
  if (!el) throw new Error(`missing [data-testid=${testId}]`);
  return el;
}

function h(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function setStatus(state: 'starting' | 'joined' | 'error', text: string): void {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function setResult(testId: string, state: 'busy' | 'ok' | 'missing' | 'error', ...content: (Node | string)[]): void {
  const el = $(testId);
  el.dataset.state = state;
  el.replaceChildren(...content);
}

function describeError(err: unknown): string {
  if (isSpydhtError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : `${Math.floor(s / 60)} min ago`;
}

// ---------------------------------------------------------------------------------------------
// Routing table

function contactRow(c: ContactInfo): HTMLElement {
  return h(
    'tr',
    { 'data-testid': 'contact', 'data-id': c.id, 'data-transport': TRANSPORTS[c.transport] ?? String(c.transport) },
    h('td', { title: c.id }, h('code', {}, `${c.id.slice(0, 12)}…`)),
    h('td', { class: 'addr', title: c.address }, c.address),
    h('td', {}, TRANSPORTS[c.transport] ?? String(c.transport)),
    h('td', { class: 'num' }, c.rtt === null ? '–' : `${c.rtt < 10 ? c.rtt.toFixed(1) : Math.round(c.rtt)} ms`),
    h('td', { class: 'num' }, c.lastSeen ? ago(c.lastSeen) : '–'),
  );
}

function renderTable(node: DHT): void {
  const snap = node.snapshot();
  $('contact-count').textContent = String(snap.size);
  $('record-count').textContent = String(node.stats().records ?? 0);
  const container = $('routing-table');
  if (snap.buckets.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, 'no contacts yet'));
    return;
  }
  // One table, one <tbody> per bucket (nearest bucket first), headed by the bucket's index.
  const groups = [...snap.buckets]
    .sort((a, b) => b.index - a.index)
    .map((b) =>
      h(
        'tbody',
        { 'data-testid': 'bucket', 'data-index': String(b.index) },
        h(
          'tr',
          { class: 'bucket-head' },
          h(
            'th',
            { colspan: '5', title: `contacts whose IDs share their first ${b.index} bits with this node's` },
            `bucket ${b.index}`,
            h('span', { class: 'muted' }, ` · ${b.contacts.length} contact${b.contacts.length === 1 ? '' : 's'}${b.replacements ? `, ${b.replacements} waiting` : ''}`),
          ),
        ),
        ...b.contacts.map(contactRow),
      ),
    );
  const head = h('thead', {}, h('tr', {}, ...['ID', 'address', 'transport', 'RTT', 'last seen'].map((t) => h('th', {}, t))));
  container.replaceChildren(h('table', {}, head, ...groups));
}

// ---------------------------------------------------------------------------------------------
// Message log: batched, so a burst of traffic costs one DOM update per frame, bounded to LOG_LINES.

const pending: { m: DHTMessageEvent; at: number }[] = [];
let flushTimer: ReturnType<typeof setTimeout> | undefined;

function logMessage(m: DHTMessageEvent): void {
  pending.push({ m, at: Date.now() });
  if (pending.length > LOG_LINES) pending.splice(0, pending.length - LOG_LINES);
  flushTimer ??= setTimeout(flushLog, 100);
}

function flushLog(): void {
  flushTimer = undefined;
  const log = $('message-log');
  const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(
    ...pending.map(({ m, at }) =>
      h(
        'li',
        { 'data-testid': 'log-line', 'data-direction': m.direction, 'data-type': m.type, class: m.direction },
        h('span', { class: 'time' }, new Date(at).toLocaleTimeString([], { hour12: false })),
        h('span', { class: 'dir' }, m.direction === 'in' ? '←' : '→'),
        h('span', { class: 'type' }, m.type),
        h('span', { class: 'peer', title: m.peer }, m.peer),
        h('span', { class: 'num' }, `${m.bytes} B`),
      ),
    ),
  );
  pending.length = 0;
  while (log.childElementCount > LOG_LINES) log.firstElementChild?.remove();
  if (stick) log.scrollTop = log.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// Forms

function keyLink(key: string): HTMLElement {
  const el = h('code', { class: 'key', 'data-testid': 'put-key', title: 'click: use this key below' }, key);
  el.addEventListener('click', () => {
    $<HTMLInputElement>('get-key').value = key;
    $<HTMLInputElement>('delete-key').value = key;
  });
  return el;
}

function onSubmit(testId: string, handler: (data: FormData) => Promise<void>): void {
  const form = $<HTMLFormElement>(testId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    handler(new FormData(form)).finally(() => {
      if (button) button.disabled = false;
    });
  });
}

function wireForms(node: DHT): void {
  onSubmit('put-form', async (data) => {
    setResult('put-result', 'busy', 'storing… (proof of work, then STORE on the closest nodes)');
    try {
      const { key, stored } = await node.publish(String(data.get('label')), String(data.get('content')), { ttl: Number(data.get('ttl')) });
      setResult('put-result', 'ok', 'key ', keyLink(key), h('span', { class: 'muted' }, ` stored on ${stored} node${stored === 1 ? '' : 's'}`));
      $<HTMLInputElement>('get-key').value = key;
      $<HTMLInputElement>('delete-key').value = key;
    } catch (err) {
      setResult('put-result', 'error', describeError(err));
    }
  });

  onSubmit('get-form', async (data) => {
    const key = String(data.get('key')).trim().toLowerCase();
    setResult('get-result', 'busy', 'looking up…');
    try {
      const { value, hops, queried } = await node.findValue(key);
      if (!value) return setResult('get-result', 'missing', 'not found');
      let content: string;
      try {
        content = value.text();
      } catch {
        content = `(${value.content.length} bytes of binary content)`;
      }
      setResult(
        'get-result',
        'ok',
        h('span', { class: 'label' }, value.labelText()),
        ' = ',
        h('span', { 'data-testid': 'get-content', class: 'content' }, content),
        h('br'),
        h(
          'span',
          { class: 'muted' },
          `${hops ? `${hops} hops, ${queried} nodes queried` : 'held here'} · expires ${value.expiresAt.toLocaleString()}` +
            (value.owner ? ` · owner ${value.owner.slice(0, 12)}…` : ' · no owner'),
        ),
      );
    } catch (err) {
      setResult('get-result', 'error', describeError(err));
    }
  });

  onSubmit('delete-form', async (data) => {
    const key = String(data.get('key')).trim().toLowerCase();
    setResult('delete-result', 'busy', 'deleting…');
    try {
      const accepted = await node.delete(key);
      setResult('delete-result', 'ok', `deleted: ${accepted} node${accepted === 1 ? '' : 's'} accepted`);
    } catch (err) {
      setResult('delete-result', 'error', describeError(err));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Start

async function start(): Promise<DHT> {
  $('signal-url').textContent = signalingUrl;
  $('log-limit').textContent = String(LOG_LINES);
  setStatus('starting', `solving the ID puzzle, connecting to ${signalingUrl} …`);
  // Join after the listeners are on, so the table and the log show the join itself.
  const node = await createBrowserNode({
    signalingUrls,
    signalingOrder: params.get('signalOrder') === 'in-order' ? 'in-order' : 'shuffle',
    // Which server this tab uses now (the page shows it; a failover changes it).
    onSignalingChange: (url) => ($('signal-url').textContent = url ?? `none: reconnecting to one of ${signalingUrl} …`),
    network,
    identityStorage: persist ? 'indexeddb' : false,
    autoBootstrap: false,
    ...(maxPerIp ? { maxPerIp } : {}),
  });
  window.spydht.node = node;
  $('node-id').textContent = node.id;
  document.title = `spydht ${node.id.slice(0, 8)}`;

  let renderTimer: ReturnType<typeof setTimeout> | undefined;
  let joined = false;
  const scheduleRender = (): void => {
    renderTimer ??= setTimeout(() => {
      renderTimer = undefined;
      renderTable(node);
      if (joined) setStatus('joined', `joined: ${node.routing.size} contact${node.routing.size === 1 ? '' : 's'}`);
    }, 50);
  };
  for (const event of ['contact-added', 'contact-removed', 'contact-updated', 'stored', 'deleted'] as const) node.on(event, scheduleRender);
  node.on('message', logMessage);
  setInterval(scheduleRender, 1000); // "last seen" ages, RTT estimates
  addEventListener('pagehide', () => void node.close());

  setStatus('starting', 'joining the swarm …');
  try {
    await node.bootstrap();
  } catch (err) {
    await node.close();
    throw err;
  }
  joined = true;
  scheduleRender();
  wireForms(node);
  document.querySelectorAll<HTMLButtonElement>('form button').forEach((button) => (button.disabled = false));
  return node;
}

const ready = start();
window.spydht = { node: undefined, ready };
ready.catch((err: unknown) => {
  console.error(err);
  setStatus('error', `could not join: ${describeError(err)}`);
});
