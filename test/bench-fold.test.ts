// The suite's bookkeeping on synthetic runs: per-run figures, folding rounds
// into a variant with margins and paired ratios, the plan's CPU counts. No
// threads, no timings.

import { describe, expect, it } from "vitest";
import { figuresOf, foldVariant, headlineCpus, plan } from "../src/bench/suite.js";
import type { StressResult } from "../src/run/stress.js";

function fakeRun(over: {
  cpus?: number;
  gupCalls: number;
  ipiNs?: number[];
  fallbacks?: number;
}): StressResult {
  const cpus = over.cpus ?? 2;
  return {
    cpus,
    durationMs: 500,
    gupCalls: over.gupCalls,
    backoffs: 4,
    fallbacks: over.fallbacks ?? over.gupCalls / 2,
    mutatorOps: { total: 1000, committed: 900, aborted: 100, followUps: 0 },
    ipi: { broadcasts: 0, handlerEntries: over.ipiNs ? 500 : 0, waitUsTotal: 0 },
    samples: {
      gupNs: [100, 200, 300, 400, 500],
      collapseNs: [1000, 2000, 3000],
      ipiWaitNs: over.ipiNs ?? [],
    },
  } as unknown as StressResult;
}

describe("bench bookkeeping", () => {
  it("figures of one run: per-GUP-CPU rates, quantiles, rates per call", () => {
    const f = figuresOf(fakeRun({ cpus: 3, gupCalls: 1000, ipiNs: [500, 1500] }));
    expect(f.gupCallsPerSec).toBe(1000); // 1000 calls / 0.5 s / 2 GUP CPUs
    expect(f.gupP50Ns).toBe(300);
    expect(f.collapseP50Us).toBe(2);
    expect(f.ipiP50Us).toBe(1);
    expect(f.backoffRate).toBeCloseTo(0.004, 10);
    expect(f.fallbackRate).toBe(0.5);
    expect(f.collapsesPerSec).toBe(2000);
    expect(f.ipiHandlerEntriesPerSec).toBe(500);
    expect(Number.isNaN(figuresOf(fakeRun({ gupCalls: 10 })).ipiP50Us)).toBe(true);
  });

  it("folding rounds: medians with order-statistic margins, ratios paired with none round by round", () => {
    const calls = [1000, 2000, 3000, 1500, 2500, 3500];
    const none = calls.map((n) => figuresOf(fakeRun({ gupCalls: n })));
    const ipi = calls.map((n) => figuresOf(fakeRun({ gupCalls: (n * 9) / 10, ipiNs: [800, 900] })));
    const v = foldVariant("ipi", 2, ipi, none);
    expect(v.rounds).toBe(6);
    // calls/s per GUP CPU: 0.9 n / 0.5 s; the median of 6 rounds interpolates the middle two
    expect(v.gupCallsPerSec).toBeCloseTo(((2000 + 2500) / 2) * 0.9 * 2, 6);
    // 6 rounds: the interval is min..max, its longer side over the median
    expect(v.rme.gupCallsPerSec).toBeCloseTo(((3500 - 2250) / 2250) * 100, 6);
    // drift between rounds cancels in the paired ratio: exactly 0.9, no margin
    expect(v.vsNone.gupCallsPerSec).toBeCloseTo(0.9, 10);
    expect(v.rme.vsNone.gupCallsPerSec).toBeCloseTo(0, 10);
    // the IPI waits are pooled over rounds: p50 of six 800s and six 900s
    expect(v.ipiWaitUs?.p50).toBeCloseTo(0.85, 10);
    expect(v.rme.ipiWaitUs?.p50).not.toBeNull();
    const n = foldVariant("none", 2, none, none);
    expect(n.ipiWaitUs).toBeNull();
    expect(n.rme.ipiWaitUs).toBeNull();
    expect(n.vsNone.gupCallsPerSec).toBe(1);
    // fewer than 6 rounds: no 95% interval from order statistics, so no margin
    const few = foldVariant("ipi", 2, ipi.slice(0, 5), none.slice(0, 5));
    expect(few.rme.gupCallsPerSec).toBeNull();
  });

  it("the plan: CPU counts 2, 4, 8 (or --cpus), many short rounds, the headline at the cores", () => {
    for (const quick of [true, false]) {
      const p = plan(quick);
      expect(p.cpus[0]).toBe(2);
      expect(p.raceTrials).toBeGreaterThanOrEqual(20);
      expect([...p.cpus].sort((a, b) => a - b)).toEqual(p.cpus);
      expect(p.rounds).toBeGreaterThanOrEqual(6);
    }
    expect(plan(false).cpus).toEqual([2, 4, 8]);
    expect(plan(false, undefined, 4).bystanders).toEqual([0, 4]);
    expect(plan(false, undefined, 0, [8, 2, 4, 4]).cpus).toEqual([2, 4, 8]);
    expect(plan(true).rounds).toBeLessThan(plan(false).rounds);
    // 16 cores: 8 is the largest count that is not oversubscribed; 2 cores: 2
    expect(headlineCpus([2, 4, 8], 16)).toBe(8);
    expect(headlineCpus([2, 4, 8], 2)).toBe(2);
    expect(headlineCpus([4, 8], 2)).toBe(4);
  });
});
