// The suite's bookkeeping on synthetic runs: per-run figures, folding rounds
// into a variant with margins and paired ratios, the plan's CPU counts. No
// threads, no timings.

import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { figuresOf, foldVariant, plan } from "../src/bench/suite.js";
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

  it("folding rounds: means with margins, ratios paired with none round by round", () => {
    const none = [1000, 2000, 3000].map((n) => figuresOf(fakeRun({ gupCalls: n })));
    const ipi = [900, 1800, 2700].map((n) =>
      figuresOf(fakeRun({ gupCalls: n, ipiNs: [800, 900] })),
    );
    const v = foldVariant("ipi", 2, ipi, none);
    expect(v.rounds).toBe(3);
    expect(v.gupCallsPerSec).toBe(3600);
    expect(v.rme.gupCallsPerSec).not.toBeNull();
    // drift between rounds cancels in the paired ratio: exactly 0.9, no margin
    expect(v.vsNone.gupCallsPerSec).toBeCloseTo(0.9, 10);
    expect(v.rme.vsNone.gupCallsPerSec).toBeCloseTo(0, 10);
    expect(v.ipiWaitUs?.p50).toBeCloseTo(0.85, 10);
    const n = foldVariant("none", 2, none, none);
    expect(n.ipiWaitUs).toBeNull();
    expect(n.rme.ipiWaitUs).toBeNull();
    expect(n.vsNone.gupCallsPerSec).toBe(1);
  });

  it("the plan covers 2 CPUs up to the cores and at least twice the cores", () => {
    const cores = availableParallelism();
    for (const quick of [true, false]) {
      const p = plan(quick);
      expect(p.cpus[0]).toBe(2);
      expect(p.cpus).toContain(Math.max(2, cores));
      if (2 * cores <= 64) expect(p.cpus).toContain(2 * cores);
      expect(p.raceTrials).toBeGreaterThanOrEqual(20);
      expect([...p.cpus].sort((a, b) => a - b)).toEqual(p.cpus);
    }
    expect(plan(true).rounds).toBeLessThan(plan(false).rounds);
  });
});
