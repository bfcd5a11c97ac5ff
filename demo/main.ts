/**
 * The spydht demo page: a full DHT node in this tab. It joins through a signaling server
 * (?signal=ws://host:port, several as ?signal=url1,url2 or repeated: one is picked at random, the
 * others are its failover; default ws://<this page's host>:8787), then shows its routing table as
 * a picture of the ID space and as a table, offers put / get / delete, and logs every message it
 * sends or receives. The forms work as soon as the node has one contact; the rest of the join
 * goes on in the background.
 *
 * Other query parameters: ?network=<name> (must match the swarm's), ?maxPerIp=<n> (routing
 * entries per IP; raise it when every peer runs on one machine), ?persist=0 (a new identity on
 * every load; by default each tab keeps its own across reloads), ?signalOrder=in-order (try the
 * servers as listed instead of at random).
 *
 * For tests: window.spydht = { node, usable, ready, usableAt, timings }: `usable` resolves with the
 * node at its first contact, `ready` once the join is done, `usableAt` is the page-clock ms when the
 * forms were enabled, `timings` the page-clock ms of each step. data-testid attributes on everything.
 */
import { createBrowserNode, isSpydhtError, toHex, type ContactInfo, type DHT, type DHTMessageEvent, type NetworkOptions } from 'spydht';
import { KIND_LABELS, describeAddress, kindOf, type ContactKind } from './kinds.js';
import { describeOwner } from './owner.js';
import { KIND_COLOURS, freshness, routingPicture } from './picture.js';

const LOG_LINES = 200;

declare global {
  interface Window {
    spydht: { node: DHT | undefined; usable: Promise<DHT>; ready: Promise<DHT>; usableAt: number | undefined; timings: Record<string, number> };
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

function setStatus(state: 'starting' | 'usable' | 'joined' | 'error', text: string): void {
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

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------
// Routing table: the picture and the table, drawn from one snapshot

/** The table row and the picture's dot of the contact under the pointer, highlighted together. */
let hovered: string | undefined;

function highlight(id: string | undefined): void {
  hovered = id;
  document.querySelectorAll('.hover').forEach((e) => e.classList.remove('hover'));
  if (id) document.querySelectorAll(`[data-id="${id}"]`).forEach((e) => e.classList.add('hover'));
}

function contactRow(c: ContactInfo): HTMLElement {
  const kind = kindOf(c);
  const row = h(
    'tr',
    { 'data-testid': 'contact', 'data-id': c.id, 'data-kind': kind, 'data-transport': c.transport },
    h('td', { title: c.id }, h('span', { class: 'dot', style: `background: ${KIND_COLOURS[kind]}; opacity: ${freshness(c.lastSeen).toFixed(2)}` }), h('code', {}, `${c.id.slice(0, 8)}…`)),
    h('td', { 'data-testid': 'contact-kind' }, KIND_LABELS[kind]),
    h('td', { class: 'addr', title: c.address, 'data-testid': 'contact-address' }, describeAddress(c)),
    h('td', { class: 'num' }, c.rtt === null ? '–' : `${c.rtt < 10 ? c.rtt.toFixed(1) : Math.round(c.rtt)} ms`),
    h('td', { class: 'num' }, c.lastSeen ? ago(c.lastSeen) : '–'),
  );
  row.addEventListener('mouseenter', () => highlight(c.id));
  row.addEventListener('mouseleave', () => highlight(undefined));
  return row;
}

function renderTable(node: DHT): void {
  const snap = node.snapshot();
  $('contact-count').textContent = String(snap.size);
  $('record-count').textContent = String(node.stats().records);
  $('routing-picture-box').replaceChildren(routingPicture(snap, { onHover: highlight }));
  const container = $('routing-table');
  if (snap.buckets.length === 0) {
    container.replaceChildren(h('p', { class: 'muted' }, 'no contacts yet'));
    return;
  }
  // One table, one <tbody> per bucket (nearest bucket first), headed by what the bucket is.
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
            { colspan: '5' },
            `bucket ${b.index}`,
            h('span', { class: 'muted' }, ` · IDs sharing their first ${b.index} bits with this node · ${plural(b.contacts.length, 'contact')}${b.replacements ? `, ${b.replacements} waiting` : ''}`),
          ),
        ),
        ...b.contacts.map(contactRow),
      ),
    );
  const head = h('thead', {}, h('tr', {}, ...['ID', 'kind', 'reached by', 'RTT', 'last seen'].map((t) => h('th', {}, t))));
  container.replaceChildren(h('table', {}, head, ...groups));
  if (hovered) highlight(hovered);
}

function renderLegend(): void {
  const kinds: ContactKind[] = ['tab', 'node', 'server'];
  const explain: Record<ContactKind, string> = { tab: 'another browser tab (WebRTC)', node: 'a Node process (UDP and WebRTC)', server: 'what tabs join through', peer: 'kind unknown' };
  $('legend').replaceChildren(
    ...kinds.map((k) => h('li', {}, h('span', { class: 'dot', style: `background: ${KIND_COLOURS[k]}` }), `${KIND_LABELS[k]}: ${explain[k]}`)),
    h('li', {}, h('span', { class: 'dot', style: `background: ${KIND_COLOURS.tab}; opacity: 0.25` }), 'faded: not heard from for a while'),
  );
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
      setResult('put-result', 'ok', 'key ', keyLink(key), h('span', { class: 'muted' }, ` stored on ${plural(stored, 'node')}`));
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
      const owner = value.owner ? describeOwner(node, value.owner) : undefined;
      setResult(
        'get-result',
        'ok',
        h('span', { class: 'label' }, value.labelText()),
        ' = ',
        h('span', { 'data-testid': 'get-content', class: 'content' }, content),
        h('br'),
        h('span', { class: 'muted' }, `${hops ? `${hops} hops, ${queried} nodes queried` : 'held here'} · expires ${value.expiresAt.toLocaleString()} · `),
        owner
          ? h('span', { class: 'muted', 'data-testid': 'get-owner', 'data-owner-id': owner.id, title: `owner's node ID ${owner.id}\npublic key ${value.owner!}` }, `owner: ${owner.text}`)
          : h('span', { class: 'muted', 'data-testid': 'get-owner' }, 'no owner: nobody can delete it'),
      );
    } catch (err) {
      setResult('get-result', 'error', describeError(err));
    }
  });

  onSubmit('mput-form', async (data) => {
    setResult('mput-result', 'busy', 'looking up the newest seq, then proof of work and STORE on the closest nodes…');
    const cas = String(data.get('cas') ?? '').trim();
    try {
      const { seq, stored } = await node.putMutable(String(data.get('content')), { salt: String(data.get('salt') ?? ''), cas: cas === '' ? undefined : Number(cas) });
      setResult('mput-result', 'ok', 'seq ', h('span', { 'data-testid': 'mput-seq' }, String(seq)), h('span', { class: 'muted' }, ` stored on ${plural(stored, 'node')}`));
      $<HTMLInputElement>('mput-cas').value = String(seq);
    } catch (err) {
      setResult('mput-result', 'error', describeError(err));
    }
  });

  onSubmit('mget-form', async (data) => {
    const publicKey = String(data.get('publicKey') ?? '').trim().toLowerCase() || toHex(node.identity.publicKey);
    setResult('mget-result', 'busy', 'asking the closest nodes for their newest copy…');
    try {
      const value = await node.getMutable(publicKey, { salt: String(data.get('salt') ?? '') });
      if (!value) return setResult('mget-result', 'missing', 'not found');
      let content: string;
      try {
        content = value.text();
      } catch {
        content = `(${value.content.length} bytes of binary content)`;
      }
      const owner = describeOwner(node, value.owner);
      setResult(
        'mget-result',
        'ok',
        'seq ',
        h('span', { 'data-testid': 'mget-seq' }, String(value.seq)),
        ' = ',
        h('span', { 'data-testid': 'mget-content', class: 'content' }, content),
        h('br'),
        h('span', { class: 'muted' }, `expires ${value.expiresAt.toLocaleString()} · owner: ${owner.text}`),
      );
    } catch (err) {
      setResult('mget-result', 'error', describeError(err));
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
// Start: usable at the first contact, joined in the background

let markUsable: (node: DHT) => void;
const usable = new Promise<DHT>((resolve) => (markUsable = resolve));

async function start(): Promise<DHT> {
  $('signal-url').textContent = signalingUrl;
  $('log-limit').textContent = String(LOG_LINES);
  renderLegend();
  setStatus('starting', `solving the ID puzzle, connecting to ${signalingUrl} …`);
  // Join after the listeners are on, so the table and the log show the join itself.
  timings.scriptStart = performance.now();
  // The identity is this tab's own (its slot, kept across reloads) unless ?persist=0; the page
  // reports how long it took apart from the rest of the start.
  const node = await createBrowserNode({
    identityStorage: persist ? 'indexeddb' : false,
    onIdentity: () => (timings.identity = performance.now()),
    signalingUrls,
    signalingOrder: params.get('signalOrder') === 'in-order' ? 'in-order' : 'shuffle',
    // Which server this tab uses now (the page shows it; a failover changes it).
    onSignalingChange: (url) => ($('signal-url').textContent = url ?? `none: reconnecting to one of ${signalingUrl} …`),
    network,
    autoBootstrap: false,
    ...(maxPerIp ? { maxPerIp } : {}),
  });
  timings.connected = performance.now();
  window.spydht.node = node;
  $('node-id').textContent = node.id;
  document.title = `spydht ${node.id.slice(0, 8)}`;

  let renderTimer: ReturnType<typeof setTimeout> | undefined;
  let joined = false;
  const scheduleRender = (): void => {
    renderTimer ??= setTimeout(() => {
      renderTimer = undefined;
      renderTable(node);
      if (joined) setStatus('joined', `joined: ${plural(node.routing.size, 'contact')}`);
    }, 50);
  };

  // One contact is enough to put and get: enable the forms then, not after the whole join (which
  // may wait on timeouts toward tabs that have just closed).
  let enabled = false;
  const enableOnce = (): void => {
    if (enabled || node.routing.size === 0) return;
    enabled = true;
    window.spydht.usableAt = timings.usable = performance.now();
    $('ready-after').textContent = `${(window.spydht.usableAt / 1000).toFixed(2)} s (first contact)`;
    wireForms(node);
    document.querySelectorAll<HTMLButtonElement>('form button').forEach((button) => (button.disabled = false));
    if (!joined) setStatus('usable', `usable: ${plural(node.routing.size, 'contact')}, joining the rest of the swarm …`);
    markUsable(node);
  };
  for (const event of ['contact-added', 'contact-removed', 'contact-updated', 'stored', 'deleted'] as const) node.on(event, scheduleRender);
  node.on('contact-added', enableOnce);
  node.on('message', logMessage);
  setInterval(scheduleRender, 1000); // "last seen" ages, dots fade, RTT estimates change
  addEventListener('pagehide', () => void node.close());

  try {
    await node.bootstrap();
  } catch (err) {
    // A join that reached somebody is still a usable node; one that reached nobody is not.
    if (node.routing.size === 0) {
      await node.close();
      throw err;
    }
    console.warn('join ended early:', err);
  }
  joined = true;
  timings.joined = performance.now();
  enableOnce();
  scheduleRender();
  return node;
}

/** Page-clock ms at each step of the start (for the e2e test's report). */
const timings: Record<string, number> = {};
const ready = start();
window.spydht = { node: undefined, usable, ready, usableAt: undefined, timings };
ready.catch((err: unknown) => {
  console.error(err);
  setStatus('error', `could not join: ${describeError(err)}`);
});
