/**
 * Lets a long CPU loop (proof of work, ID puzzle) give the event loop a turn.
 * MessageChannel exists in browsers, workers and Node, and unlike setTimeout(0) it is not
 * clamped to 4 ms after nesting.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(0);
  });
}

/** Milliseconds of work between yields: short enough that the page stays responsive. */
export const SLICE_MS = 8;
