/**
 * Waiting on a condition in tests: polled, bounded, and failing with what it waited for. Use it
 * for state that changes without an event to wait on (a counter, a table size); never sleep and hope.
 */

/** Default bound of `until`: long enough for loopback traffic on a busy 2-core machine. */
const UNTIL_MS = 5_000;
/** How often `until` re-checks: short against any bound, long enough not to starve the work it waits for. */
const POLL_MS = 5;

/** Re-checks `cond` every few ms until it holds; rejects after `timeoutMs`, naming `what` it waited for. */
export async function until(cond: () => boolean, what: string, timeoutMs = UNTIL_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, POLL_MS));
  }
}
