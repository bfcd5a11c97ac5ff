/** The printed report: the machine header, each section's tables in section order, failures, timings. */
import { fmt } from './format.js';
import { header } from './machine.js';

/**
 * `results` is what latest.json holds; `sections` maps each section name, in report order, to its
 * module. A section without a `report` (the sockets control) is shown by another section's report.
 */
export function report(results, sections) {
  const out = header(results.meta);
  for (const [name, section] of Object.entries(sections)) {
    if (results[name] && section.report) out.push(...section.report(results[name], results));
  }
  for (const [name, err] of Object.entries(results.errors ?? {})) out.push(`\n!! section ${name} failed: ${err}`);
  const ran = Object.keys(sections).filter((n) => results[n]);
  out.push(`\nTotal ${fmt(results.meta.totalS, 1)} s (${ran.map((n) => `${n} ${fmt(results[n].sectionS, 0)} s`).join(', ')}).`);
  return out.join('\n');
}
