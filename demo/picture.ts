/**
 * The routing table as a picture: the 256-bit ID space around this node, drawn as a target. This
 * node is the centre; each ring is a bucket (the contacts whose IDs share exactly N leading bits with
 * this node's), the far half of the ID space (bucket 0) outermost, each ring inward half the distance
 * of the one outside it. A contact is a dot in its ring, nearer the ring's inner edge the smaller
 * its XOR distance; its colour says what it is, and it fades the longer it has not been heard from.
 */
import type { ContactInfo, RoutingSnapshot } from 'spydht';
import { place } from './distance.js';
import { KIND_LABELS, describeAddress, kindOf, type ContactKind } from './kinds.js';

const SVG = 'http://www.w3.org/2000/svg';
const SIZE = 300;
const CENTRE = SIZE / 2;
const OUTER = 138;
const INNER = 16;
/** Rings drawn at least (a young swarm fills only the outer few), and at most. */
const MIN_RINGS = 5;
const MAX_RINGS = 14;
/** A contact not heard from for this long is drawn at the faintest. */
const FADE_MS = 120_000;
const FAINTEST = 0.2;

export const KIND_COLOURS: Record<ContactKind, string> = {
  tab: '#2f6f9f',
  node: '#2e7d32',
  server: '#b26a00',
  peer: '#8a8f94',
};

function el(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

/** How opaque a contact last seen at `lastSeen` is drawn now. */
export function freshness(lastSeen: number, now = Date.now()): number {
  if (!lastSeen) return FAINTEST;
  return Math.max(FAINTEST, 1 - (now - lastSeen) / FADE_MS);
}

export interface PictureOptions {
  /** Called with a contact's ID when the pointer enters its dot (undefined when it leaves). */
  onHover?: (id: string | undefined) => void;
}

/** Details shown when hovering a dot (an SVG <title>, the browser's own tooltip). */
function details(c: ContactInfo, bucket: number): string {
  const seen = c.lastSeen ? `${Math.max(0, Math.round((Date.now() - c.lastSeen) / 1000))} s ago` : 'never';
  return [
    `${KIND_LABELS[kindOf(c)]} ${c.id.slice(0, 16)}…`,
    `bucket ${bucket}: shares its first ${bucket} bits with this node`,
    `reached by ${describeAddress(c)}`,
    `RTT ${c.rtt === null ? 'not measured yet' : `${Math.round(c.rtt)} ms`}, last seen ${seen}`,
  ].join('\n');
}

/** The picture of `snapshot`, as an <svg> element. */
export function routingPicture(snapshot: RoutingSnapshot, options: PictureOptions = {}): SVGElement {
  const contacts = snapshot.buckets.flatMap((b) => b.contacts);
  const placed = contacts.flatMap((c) => {
    const p = place(snapshot.id, c.id);
    return p ? [{ c, p }] : [];
  });
  const deepest = Math.max(-1, ...placed.map(({ p }) => p.bucket));
  const rings = Math.min(MAX_RINGS, Math.max(MIN_RINGS, deepest + 2));
  const width = (OUTER - INNER) / rings;
  /** Outer radius of the ring of `bucket` (deeper buckets than drawn share the innermost ring). */
  const outerOf = (bucket: number): number => OUTER - Math.min(bucket, rings - 1) * width;

  const svg = el('svg', { viewBox: `0 0 ${SIZE} ${SIZE}`, role: 'img', 'aria-label': `routing table picture: ${contacts.length} contacts`, 'data-testid': 'routing-picture' });
  for (let b = 0; b < rings; b++) {
    svg.append(
      el('circle', { cx: CENTRE, cy: CENTRE, r: outerOf(b), class: `ring ${b % 2 ? 'odd' : 'even'}` }),
    );
  }
  for (let b = 0; b < rings; b++) {
    // Bucket numbers along the vertical axis, above the centre, when the rings have room for them.
    if (width >= 9) {
      svg.append(el('text', { x: CENTRE + 3, y: CENTRE - outerOf(b) + width / 2 + 3.5, class: 'ring-label' }, b === rings - 1 && deepest >= rings ? `${b}+` : String(b)));
    }
  }
  svg.append(el('circle', { cx: CENTRE, cy: CENTRE, r: INNER, class: 'self' }), el('text', { x: CENTRE, y: CENTRE + 4, class: 'self-label' }, 'you'));

  for (const { c, p } of placed) {
    const drawn = Math.min(p.bucket, rings - 1);
    // Inner edge of the ring plus the position within the bucket (0 near, 1 far).
    const r = outerOf(drawn) - width + (p.bucket > drawn ? 0.15 : 0.15 + 0.7 * p.within) * width;
    const angle = 2 * Math.PI * p.spread - Math.PI / 2;
    const kind = kindOf(c);
    const dot = el(
      'circle',
      {
        cx: (CENTRE + r * Math.cos(angle)).toFixed(1),
        cy: (CENTRE + r * Math.sin(angle)).toFixed(1),
        r: 5,
        fill: KIND_COLOURS[kind],
        'fill-opacity': freshness(c.lastSeen).toFixed(2),
        class: 'mark',
        'data-testid': 'mark',
        'data-id': c.id,
        'data-kind': kind,
        'data-bucket': p.bucket,
      },
      el('title', {}, details(c, p.bucket)),
    );
    dot.addEventListener('mouseenter', () => options.onHover?.(c.id));
    dot.addEventListener('mouseleave', () => options.onHover?.(undefined));
    svg.append(dot);
  }
  return svg;
}
