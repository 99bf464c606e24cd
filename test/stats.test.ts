// The benchmark statistics on fixed inputs: no timings.

import { describe, expect, it } from "vitest";
import {
  censoredQuantile,
  estimate,
  mean,
  medianCiRanks,
  medianEstimate,
  pairedRatio,
  pairedRatioMedian,
  poissonRme,
  pooledQuantile,
  quantile,
  quantileCi,
  quantileEstimate,
  relativeMarginOfError,
  stdDev,
  tCritical95,
  upperBound95,
} from "../src/stats/stats.js";

describe("mean and spread", () => {
  it("mean and sample standard deviation", () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(Number.isNaN(mean([]))).toBe(true);
    expect(stdDev([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138, 3);
    expect(stdDev([5])).toBe(0);
  });

  it("t critical values: the table, then the normal limit", () => {
    expect(tCritical95(1)).toBe(12.706);
    expect(tCritical95(4)).toBe(2.776);
    expect(tCritical95(30)).toBe(2.042);
    expect(tCritical95(1000)).toBe(1.96);
    expect(Number.isNaN(tCritical95(0))).toBe(true);
  });

  it("relative margin of error = t * sd / sqrt(n) / mean, in percent", () => {
    const xs = [10, 12, 11, 9, 13];
    const expected = ((2.776 * stdDev(xs)) / Math.sqrt(5) / 11) * 100;
    expect(relativeMarginOfError(xs)).toBeCloseTo(expected, 10);
    expect(relativeMarginOfError([7, 7, 7])).toBe(0);
    expect(relativeMarginOfError([3])).toBeNull();
    expect(relativeMarginOfError([-1, 1])).toBeNull();
  });

  it("estimate drops non-finite values and counts the rest", () => {
    const e = estimate([1, Number.NaN, 3]);
    expect(e.value).toBe(2);
    expect(e.n).toBe(2);
    expect(e.rme).not.toBeNull();
  });

  it("paired ratios divide round by round", () => {
    const e = pairedRatio([2, 4, 6], [1, 2, 3]);
    expect(e.value).toBe(2);
    expect(e.rme).toBe(0);
    expect(pairedRatio([1, 2], [0, 2]).n).toBe(1);
  });
});

describe("quantiles", () => {
  it("linear interpolation between order statistics (numpy's default)", () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(quantile([0, 10], 0.99)).toBeCloseTo(9.9, 10);
    expect(quantile([1, 2, 3], 0)).toBe(1);
    expect(quantile([1, 2, 3], 1)).toBe(3);
    expect(Number.isNaN(quantile([], 0.5))).toBe(true);
  });

  it("the order-statistic interval brackets the quantile and narrows with n", () => {
    const small = Array.from({ length: 20 }, (_, i) => i + 1);
    const large = Array.from({ length: 2000 }, (_, i) => (i + 1) / 100);
    const a = quantileCi(small, 0.5);
    expect(a.lo).toBeLessThanOrEqual(quantile(small, 0.5));
    expect(a.hi).toBeGreaterThanOrEqual(quantile(small, 0.5));
    const ea = quantileEstimate(small, 0.5);
    const eb = quantileEstimate(large, 0.5);
    expect(ea.rme).not.toBeNull();
    expect(eb.rme as number).toBeLessThan(ea.rme as number);
  });

  it("censored trials sort last: a quantile among them is unknown", () => {
    const times = [5, 1, 3, null, 2, null, 4, 6, 7, 8];
    const med = censoredQuantile(times, 0.5);
    expect(med.value).toBe(5.5);
    expect(med.censored).toBe(2);
    const p90 = censoredQuantile(times, 0.9);
    expect(Number.isNaN(p90.value)).toBe(true);
    expect(p90.rme).toBeNull();
    expect(Number.isNaN(censoredQuantile([null, null], 0.5).value)).toBe(true);
  });
});

describe("rates and bounds", () => {
  it("zero hits in N trials: p < 3/N at 95% (rule of three)", () => {
    expect(upperBound95(1_000_000)).toBe(3e-6);
    expect(upperBound95(300)).toBe(0.01);
    expect(upperBound95(2)).toBe(1);
    expect(upperBound95(0)).toBe(1);
    // the exact bound 1 - 0.05^(1/N) is close to 3/N for large N
    const n = 10_000;
    expect(upperBound95(n)).toBeCloseTo(1 - 0.05 ** (1 / n), 5);
  });

  it("a Poisson count's margin shrinks as 1.96 / sqrt(count)", () => {
    expect(poissonRme(100)).toBeCloseTo(19.6, 10);
    expect(poissonRme(10_000)).toBeCloseTo(1.96, 10);
    expect(poissonRme(0)).toBeNull();
  });
});

describe("intervals that carry the round-to-round drift", () => {
  it("the median's order-statistic interval: exact binomial ranks, none below 6 values", () => {
    expect(medianCiRanks(5)).toBeNull();
    // n = 6: min..max, coverage 1 - 2/64
    expect(medianCiRanks(6)).toEqual({ lo: 0, hi: 5, coverage: 1 - 2 / 64 });
    // n = 20: x(6)..x(15) (1-based), P(Bin(20, 1/2) <= 5) = 0.0207
    const r20 = medianCiRanks(20);
    expect(r20?.lo).toBe(5);
    expect(r20?.hi).toBe(14);
    expect(r20?.coverage).toBeGreaterThanOrEqual(0.95);
    for (const n of [6, 10, 15, 20, 40, 100]) {
      const r = medianCiRanks(n);
      expect(r?.coverage).toBeGreaterThanOrEqual(0.95);
      expect((r?.lo ?? 0) + (r?.hi ?? 0)).toBe(n - 1); // symmetric
    }
  });

  it("median of rounds: the longer side of the interval over the median; 0 in every round is exact", () => {
    const e = medianEstimate([10, 11, 9, 10, 12, 10, 8]);
    expect(e.value).toBe(10);
    expect(e.lo).toBe(8);
    expect(e.hi).toBe(12);
    expect(e.rme).toBeCloseTo(20, 10);
    expect(medianEstimate([0, 0, 0, 0, 0, 0]).rme).toBe(0);
    expect(medianEstimate([0, 0, 0, 0, 0, 3]).rme).toBeNull();
    expect(medianEstimate([1, 2, 3]).rme).toBeNull();
    expect(pairedRatioMedian([2, 4, 6, 8, 10, 12], [1, 2, 3, 4, 5, 6]).rme).toBeCloseTo(0, 10);
  });

  it("pooled quantile: rounds that differ widen the interval; alike rounds keep it narrow", () => {
    const alike = Array.from({ length: 10 }, (_, r) =>
      Array.from({ length: 200 }, (_, i) => 100 + ((i * 37 + r) % 20)),
    );
    const drift = alike.map((g, r) => g.map((v) => v * (r % 2 === 0 ? 1 : 2)));
    const a = pooledQuantile(alike, 0.5);
    const d = pooledQuantile(drift, 0.5);
    expect(a.n).toBe(10);
    expect(a.lo).toBeLessThanOrEqual(a.value);
    expect(a.hi).toBeGreaterThanOrEqual(a.value);
    expect(a.rme).not.toBeNull();
    expect(d.rme).not.toBeNull();
    expect(d.rme as number).toBeGreaterThan(5 * (a.rme as number));
    // seeded: the same input, the same interval
    expect(pooledQuantile(drift, 0.99)).toEqual(pooledQuantile(drift, 0.99));
    expect(pooledQuantile(alike.slice(0, 5), 0.5).rme).toBeNull();
  });
});
