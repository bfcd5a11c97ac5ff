/**
 * A line on stderr for anything that takes more than a second (the ID puzzle, joining, proof of
 * work), so a slow command never looks hung; fast commands print nothing extra. stdout stays the
 * command's result alone (a key, a value), safe to pipe.
 */

/** After this long without a result, say what is going on. */
export const PROGRESS_AFTER_MS = 1000;

export type ProgressWriter = (line: string) => void;

const stderr: ProgressWriter = (line) => void process.stderr.write(`${line}\n`);

/** Runs `work`; if it is still going after PROGRESS_AFTER_MS, writes "<what> …" once. */
export async function withProgress<T>(what: string, work: Promise<T> | (() => Promise<T>), write: ProgressWriter = stderr, afterMs = PROGRESS_AFTER_MS): Promise<T> {
  const timer = setTimeout(() => write(`${what} …`), afterMs);
  try {
    return await (typeof work === 'function' ? work() : work);
  } finally {
    clearTimeout(timer);
  }
}
