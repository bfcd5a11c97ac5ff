/**
 * Order statistics for the bench's samples. Non-finite samples (a failed op's missing figure) are
 * left out of quantiles, so one failure does not turn a median into NaN.
 */

/** The q-quantile (0–1) with linear interpolation between neighbours; NaN for no finite sample. */
export function quantile(xs, q) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

export const median = (xs) => quantile(xs, 0.5);
export const p95 = (xs) => quantile(xs, 0.95);
export const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** What the JSON keeps of every sample set: enough to judge the spread, not the samples themselves. */
export const summary = (xs) => ({ n: xs.length, median: median(xs), p95: p95(xs), mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs) });
