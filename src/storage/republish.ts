/**
 * The republish schedule both stores keep (immutable records and mutable ones): each held record is
 * re-stored to its closest nodes about once a period, spread by up to 10 % so a node's records do
 * not all fall due in one tick.
 */

interface Scheduled<R extends { expiresAt: number }> {
  record: R;
  republishAt: number;
}

/** When a record stored (or republished) at `nowMs` falls due next. */
export function nextRepublish(nowMs: number, everyMs: number, random: () => number): number {
  return nowMs + everyMs * (1 + 0.1 * random());
}

/** Up to `max` live records whose republish time has come, each rescheduled one period on. */
export function dueForRepublish<R extends { expiresAt: number }>(entries: Iterable<Scheduled<R>>, nowMs: number, max: number, next: (nowMs: number) => number): R[] {
  const out: R[] = [];
  for (const entry of entries) {
    if (out.length >= max) break;
    if (entry.republishAt > nowMs || entry.record.expiresAt <= nowMs / 1000) continue;
    entry.republishAt = next(nowMs);
    out.push(entry.record);
  }
  return out;
}
