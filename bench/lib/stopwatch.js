/**
 * CPU-bound sections (pow, identity, crypto) report this process's CPU time next to wall time: on a
 * shared machine wall time stretches with other processes' load, while CPU time stays close to what
 * an idle machine would show for single-threaded work.
 */
import { performance } from 'node:perf_hooks';

/** Starts a stopwatch; calling the result gives the wall and process CPU (user + system) time so far, both in ms. */
export function stopwatch() {
  const w = performance.now();
  const c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { wall: performance.now() - w, cpu: (d.user + d.system) / 1000 };
  };
}
