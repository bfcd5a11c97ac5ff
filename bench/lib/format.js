/**
 * Text output. Progress lines go to stderr, so stdout carries only the report (and, with
 * --section and no --out, the section's JSON).
 */

export const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

/** A number with `d` decimals; "–" for a figure that is missing (no successful sample). */
export const fmt = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));

/** A Markdown table under a "###" title: first column left-aligned, the figures right-aligned. */
export function table(title, header, rows) {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c ?? '–')));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`;
  return [`\n### ${title}\n`, line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}
