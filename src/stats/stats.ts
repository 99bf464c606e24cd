// The statistics the benchmarks report: pure functions over plain numbers.
// Margins of error are relative and in percent (tinybench's `rme` convention),
// at 95% confidence; null where they cannot be computed (n < 2, a zero mean).

/** Arithmetic mean; NaN for no values. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Sample standard deviation (n - 1); 0 for fewer than two values. */
export function stdDev(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const m = mean(values);
  let s = 0;
  for (const v of values) s += (v - m) * (v - m);
  return Math.sqrt(s / (n - 1));
}

// Two-sided 95% Student t critical values by degrees of freedom (1..30).
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
];

/** The two-sided 95% t critical value for `df` degrees of freedom (1.96 beyond the table). */
export function tCritical95(df: number): number {
  if (!(df >= 1)) return Number.NaN;
  if (df <= T95.length) return T95[Math.floor(df) - 1];
  if (df <= 60) return 2.0;
  if (df <= 120) return 1.98;
  return 1.96;
}

/**
 * Relative margin of error of the mean, in percent: t * sd / sqrt(n) / |mean| * 100.
 * Null for fewer than two values or a zero mean.
 */
export function relativeMarginOfError(values: readonly number[]): number | null {
  const n = values.length;
  if (n < 2) return null;
  const m = mean(values);
  if (m === 0 || !Number.isFinite(m)) return null;
  return ((tCritical95(n - 1) * stdDev(values)) / Math.sqrt(n) / Math.abs(m)) * 100;
}

/** A figure and its relative margin of error (percent; null: not computable). */
export interface Estimate {
  value: number;
  rme: number | null;
  /** how many independent measurements it comes from */
  n: number;
}

/** Mean of independent measurements (one per round) with its margin of error. */
export function estimate(values: readonly number[]): Estimate {
  const finite = values.filter((v) => Number.isFinite(v));
  return { value: mean(finite), rme: relativeMarginOfError(finite), n: finite.length };
}

/**
 * Paired ratios a[i] / b[i] (the same round, so that drift cancels), as an
 * estimate. Pairs with a non-finite or zero denominator are dropped.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): Estimate {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (b[i] !== 0 && Number.isFinite(a[i]) && Number.isFinite(b[i])) ratios.push(a[i] / b[i]);
  }
  return estimate(ratios);
}

/** Quantile of sorted values by linear interpolation (R type 7, numpy's default). */
export function quantileSorted(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sorted[0];
  if (p >= 1) return sorted[n - 1];
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Quantile of unsorted values (sorts a copy). */
export function quantile(values: readonly number[], p: number): number {
  return quantileSorted(
    [...values].sort((x, y) => x - y),
    p,
  );
}

/**
 * Distribution-free 95% confidence interval of the p-quantile from order
 * statistics (normal approximation of the binomial): the ranks
 * n p -/+ 1.96 sqrt(n p (1 - p)), clamped to the sample.
 */
export function quantileCi(sorted: readonly number[], p: number): { lo: number; hi: number } {
  const n = sorted.length;
  if (n === 0) return { lo: Number.NaN, hi: Number.NaN };
  const half = 1.96 * Math.sqrt(n * p * (1 - p));
  const loRank = Math.max(0, Math.floor(n * p - half) - 1);
  const hiRank = Math.min(n - 1, Math.ceil(n * p + half) - 1);
  return { lo: sorted[loRank], hi: sorted[Math.max(loRank, hiRank)] };
}

/** The p-quantile of sorted values with the half-width of its 95% interval, relative, in percent. */
export function quantileEstimate(sorted: readonly number[], p: number): Estimate {
  const value = quantileSorted(sorted, p);
  const { lo, hi } = quantileCi(sorted, p);
  const rme =
    value !== 0 && Number.isFinite(hi - lo) ? ((hi - lo) / 2 / Math.abs(value)) * 100 : null;
  return { value, rme, n: sorted.length };
}

/**
 * Quantile of times where some trials ended without the event (censored at
 * their time limit, given as null). Censored trials sort last; the quantile
 * is null when it falls among them: all we know is that it exceeds the limit.
 */
export function censoredQuantile(
  times: readonly (number | null)[],
  p: number,
): Estimate & {
  censored: number;
} {
  const seen = times.filter((t): t is number => t !== null).sort((x, y) => x - y);
  const censored = times.length - seen.length;
  const all = [...seen, ...new Array<number>(censored).fill(Number.POSITIVE_INFINITY)];
  const q = quantileEstimate(all, p);
  if (!Number.isFinite(q.value)) return { value: Number.NaN, rme: null, n: times.length, censored };
  return { ...q, rme: q.rme !== null && Number.isFinite(q.rme) ? q.rme : null, censored };
}

/**
 * 95% upper bound on a per-trial probability when none of `n` independent
 * trials hit: the rule of three, 3 / n (exact bound: 1 - 0.05^(1/n)).
 */
export function upperBound95(n: number): number {
  return n > 0 ? Math.min(1, 3 / n) : 1;
}

/** Relative 95% margin of error of a Poisson count (a rate from `count` events), in percent. */
export function poissonRme(count: number): number | null {
  return count > 0 ? (1.96 / Math.sqrt(count)) * 100 : null;
}
