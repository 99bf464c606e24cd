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

/** A figure with its 95% interval (absolute ends), for figures that may be 0. */
export interface Interval extends Estimate {
  lo: number;
  hi: number;
  /** the interval's actual coverage (order statistics give 95% or a little more) */
  coverage: number;
}

/** Relative margin of an asymmetric interval: its longer side over the value, in percent. */
function sideRme(value: number, lo: number, hi: number): number | null {
  if (!Number.isFinite(value) || !Number.isFinite(lo) || !Number.isFinite(hi)) return null;
  // A figure that is exactly 0 in every round (a fix that never waits) is known exactly.
  if (value === 0) return lo === 0 && hi === 0 ? 0 : null;
  return (Math.max(hi - value, value - lo) / Math.abs(value)) * 100;
}

/**
 * The exact distribution-free 95% interval of a median from n independent
 * values: the order statistics x(k) and x(n+1-k) (1-based) for the largest k
 * with P(Binomial(n, 1/2) <= k - 1) <= 0.025. Null below 6 values, where no
 * pair of order statistics covers 95% (n = 5: min..max covers 93.75%).
 */
export function medianCiRanks(n: number): { lo: number; hi: number; coverage: number } | null {
  if (n < 6) return null;
  // cumulative binomial(n, 1/2) in log space (n can be large)
  let logC = 0; // log C(n, 0)
  let cum = 0;
  let k = 0;
  const half = n * Math.log(0.5);
  for (let j = 0; j < n; j++) {
    const pj = Math.exp(logC + half);
    if (cum + pj > 0.025) break;
    cum += pj;
    k = j + 1;
    logC += Math.log((n - j) / (j + 1));
  }
  if (k === 0) return null;
  return { lo: k - 1, hi: n - k, coverage: 1 - 2 * cum };
}

/**
 * Median of per-round figures with its distribution-free 95% interval
 * (medianCiRanks): assumes only that rounds are independent and alike, not
 * that a round's figure is normal. rme is the longer side of the interval
 * over the median; null (n/a) below 6 rounds.
 */
export function medianEstimate(values: readonly number[]): Interval {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = xs.length;
  const value = quantileSorted(xs, 0.5);
  const r = medianCiRanks(n);
  if (r === null) return { value, rme: null, n, lo: Number.NaN, hi: Number.NaN, coverage: 0 };
  const lo = xs[r.lo];
  const hi = xs[r.hi];
  return { value, rme: sideRme(value, lo, hi), n, lo, hi, coverage: r.coverage };
}

/** Median of paired per-round ratios a[i] / b[i], with its order-statistic interval. */
export function pairedRatioMedian(a: readonly number[], b: readonly number[]): Interval {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (b[i] !== 0 && Number.isFinite(a[i]) && Number.isFinite(b[i])) ratios.push(a[i] / b[i]);
  }
  return medianEstimate(ratios);
}

/** Count of sorted values <= x. */
function countAtMost(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The p-quantile of samples pooled over rounds, with a 95% interval from a
 * cluster bootstrap over the rounds: each resample draws whole rounds with
 * replacement and takes the pooled quantile of their samples;
 * the interval is the 2.5th and 97.5th percentiles of those. Resampling whole
 * rounds keeps the samples of one round together, so the interval reflects
 * how rounds differ (the machine's drift), not only the spread within a round,
 * and assumes no independence between the samples of one round. Seeded: the
 * same input gives the same interval. Null rme below 6 rounds with samples.
 */
export function pooledQuantile(
  rounds: readonly (readonly number[])[],
  p: number,
  resamples = 1000,
  seed = 1,
): Interval {
  const groups = rounds
    .map((g) => g.filter((v) => Number.isFinite(v)).sort((a, b) => a - b))
    .filter((g) => g.length > 0);
  const all = groups.flat().sort((a, b) => a - b);
  const value = quantileSorted(all, p);
  const n = groups.length;
  if (n < 6) return { value, rme: null, n, lo: Number.NaN, hi: Number.NaN, coverage: 0 };
  let s = seed | 0 || 1;
  const rand = () => {
    // xorshift32: the statistics stay free of the harness's modules
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const counts = new Int32Array(n);
  const boot: number[] = [];
  // the smallest pooled value with at least `rank` (1-based) resampled values at or below it
  const kth = (rank: number): number => {
    let lo = 0;
    let hi = all.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let c = 0;
      for (let g = 0; g < n; g++)
        if (counts[g] > 0) c += counts[g] * countAtMost(groups[g], all[mid]);
      if (c >= rank) hi = mid;
      else lo = mid + 1;
    }
    return all[lo];
  };
  for (let b = 0; b < resamples; b++) {
    counts.fill(0);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const g = Math.floor(rand() * n);
      counts[g]++;
      total += groups[g].length;
    }
    // the resample's quantile as quantileSorted takes it (R type 7): two order statistics
    const h = (total - 1) * p;
    const below = Math.floor(h);
    const a = kth(below + 1);
    const b = below + 1 < total ? kth(below + 2) : a;
    boot.push(a + (h - below) * (b - a));
  }
  boot.sort((a, b) => a - b);
  const lo = quantileSorted(boot, 0.025);
  const hi = quantileSorted(boot, 0.975);
  return { value, rme: sideRme(value, lo, hi), n, lo, hi, coverage: 0.95 };
}
