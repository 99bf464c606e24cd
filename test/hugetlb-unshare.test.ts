// gup-vs-hugetlb-unshare: the explorer's verdict for every IPI policy, the
// counterexample for the open composition (last sharer + mm_cpumask), the
// mutants caught, and a bounded threaded run. Counts, never timings.

import { describe, expect, it } from "vitest";
import { runStorm } from "../src/bench/storm.js";
import { DEFAULT_EXPLORE, type ExploreReport, explore } from "../src/explore/explore.js";
import { defaultConfig, type RunConfig } from "../src/run/config.js";
import { runStress, type StressResult } from "../src/run/stress.js";
import { gupVsHugetlbUnshare as scenario } from "../src/scenarios/gup-vs-hugetlb-unshare.js";

const SCENARIO = scenario.name;

const run = (fix: string, more: Partial<typeof DEFAULT_EXPLORE> = {}): ExploreReport =>
  explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix, ...more });

describe("gup-vs-hugetlb-unshare in the explorer", () => {
  it("every policy gives its declared verdict over the whole space (2 CPUs, 3 entries, every range)", () => {
    for (const d of scenario.fixes) {
      const r = run(d.name);
      expect(r.complete, d.name).toBe(true);
      expect(r.rangeChoices).toBe(6);
      expect(r.verdict, d.name).toBe(d.expect);
      if (d.expect === "race") {
        expect(r.outcomes["foreign-pin"].count, d.name).toBe(r.violations);
        expect(r.counterexample?.outcome, d.name).toContain("foreign-pin");
      } else expect(r.violations, d.name).toBe(0);
      expect(r.outcomes.undeclared.count, d.name).toBe(0);
    }
  });

  it("last-sharer-targeted with a walker in B too: A's walker is missed, B's IPI reaches only B's CPUs", () => {
    const r = run("last-sharer-targeted", { cpus: 3, ptes: 1 });
    expect(r.complete).toBe(true);
    expect(r.verdict).toBe("race");
    const cex = r.counterexample;
    expect(cex).not.toBeNull();
    if (cex === null) return;
    const t = cex.trace;
    const at = (pred: (s: (typeof t)[number]) => boolean) => t.findIndex(pred);
    // The walker in A (CPU 1) read A's PUD before A's unshare ...
    const hg1 = at((s) => s.cpu === 1 && s.step === "HG1");
    const unshareA = at((s) => s.cpu === 0 && s.step === "HU1" && s.index === 0);
    const unshareB = at((s) => s.cpu === 0 && s.step === "HU1" && s.index === 1);
    expect(hg1).toBeGreaterThanOrEqual(0);
    expect(hg1).toBeLessThan(unshareA);
    // ... A's unshare sent no IPI (T still shared), B's went to B's mm_cpumask only ...
    const syncs = t.filter((s) => s.cpu === 0 && s.step === "HU3");
    expect(syncs.map((s) => s.value)).toEqual([-1, 1]);
    expect(t.some((s) => s.cpu === 1 && s.step === "IPI")).toBe(false);
    // ... and the walker read T after C reused it, then returned C's folio.
    const reuse = at((s) => s.cpu === 0 && s.step === "HU4");
    const hg3 = at((s) => s.cpu === 1 && s.step === "HG3");
    expect(unshareB).toBeLessThan(reuse);
    expect(reuse).toBeLessThan(hg3);
    expect(t[hg3].frame).toBe(cex.frame);
  });

  it("last-sharer-batched with a walker in B too is clean: B's IPI to all reaches A's walker", () => {
    const r = run("last-sharer-batched", { cpus: 3, ptes: 1 });
    expect(r.complete).toBe(true);
    expect(r.verdict).toBe("clean");
    expect(r.outcomes["unshared-waited"].count).toBeGreaterThan(0);
  });

  it("the explorer catches every mutant", () => {
    for (const m of scenario.mutants) {
      const r = run(m.fix, { ptes: 2 });
      expect(r.complete, m.id).toBe(true);
      expect(r.verdict, m.id).toBe(m.equivalent === undefined ? "race" : "clean");
    }
  });
});

const stress = (over: Partial<RunConfig>): Promise<StressResult> =>
  runStress({ ...defaultConfig(SCENARIO), cpus: 2, seed: 11, timeMs: 30_000, ...over });

describe("gup-vs-hugetlb-unshare on real threads", () => {
  it("policy none: a walker in A pins C's private folio, confirmed with data", async () => {
    const r = await stress({ fix: "none", iterations: 500_000, untilRace: true });
    expect(r.aborted).toBeNull();
    expect(r.races).toBeGreaterThan(0);
    expect(r.confirmed).toBe(r.races);
    expect(r.outcomes["foreign-pin"].count).toBe(r.races);
    expect(r.outcomes.undeclared.count).toBe(0);
  });

  it("ipi-per-unshare: no race in a bounded run", async () => {
    const r = await stress({ fix: "ipi-per-unshare", iterations: 300 });
    expect(r.aborted).toBeNull();
    expect(r.races).toBe(0);
    expect(r.outcomes.undeclared.count).toBe(0);
    expect(r.ipi.broadcasts).toBeGreaterThan(0);
  });
});

describe("bench --storm, a small plan", () => {
  it("every cell ran exits and walks; ipi-per-unshare's walker takes one IPI per table per exit, none's none", async () => {
    const r = await runStorm(
      {
        fixes: ["none", "ipi-per-unshare"],
        cpus: [2],
        shares: [2],
        worlds: 2,
        ptes: 2,
        runMs: 60,
        rounds: 1,
      },
      () => {},
    );
    expect(r.cells.map((c) => c.fix)).toEqual(["none", "ipi-per-unshare"]);
    for (const c of r.cells) {
      expect(c.exitsPerSec, c.fix).toBeGreaterThan(0);
      expect(c.walkerCallsPerSec, c.fix).toBeGreaterThan(0);
    }
    expect(r.cells[0].ipisPerExit).toBe(0);
    expect(r.cells[1].ipisPerExit).toBe(2);
  });
});
