// The explorer over the real kernel steps: verdicts for the five fixes over
// the whole bounded space, replay strings, and what a counterexample shows.

import { describe, expect, it } from "vitest";
import {
  DEFAULT_EXPLORE,
  type ExploreReport,
  explore,
  formatReplay,
  parseReplay,
  replayTrace,
} from "../src/explore/explore.js";
import type { TraceStep } from "../src/run/stress.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";

const FIX_NAMES = gupVsCollapse.fixes.map((f) => f.name);

const run = (fix: string, more: Partial<typeof DEFAULT_EXPLORE> = {}): ExploreReport =>
  explore({ ...DEFAULT_EXPLORE, fix, ...more });

describe("verdicts over the whole default space (1 collapse, 1 GUP-fast, 3 ptes, every walk range)", () => {
  it("all five fixes, exhaustively, well under 10 s", () => {
    const t0 = performance.now();
    const reports = FIX_NAMES.map((fix) => run(fix));
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(10_000);
    const by = Object.fromEntries(reports.map((r) => [r.fix, r]));
    for (const r of reports) {
      expect(r.complete, r.fix).toBe(true);
      expect(r.bound).toBeNull();
      expect(r.explored, r.fix).toBeGreaterThan(1000);
      expect(r.rangeChoices).toBe(6);
    }
    for (const fix of ["none", "kvm-pv-flush"]) {
      expect(by[fix].violations, fix).toBeGreaterThan(0);
      expect(by[fix].verdict).toBe("race");
      expect(by[fix].outcomes["stale-pin"].count).toBe(by[fix].violations);
      expect(by[fix].counterexample?.outcome).toContain("stale-pin");
    }
    for (const fix of ["recheck", "ipi", "upstream"]) {
      expect(by[fix].violations, fix).toBe(0);
      expect(by[fix].verdict).toBe("clean");
      expect(by[fix].counterexample).toBeNull();
    }
    // The fixes are not clean because nothing happens: the interesting outcomes are reached.
    expect(by.recheck.outcomes["backoff-pmd"].count).toBeGreaterThan(0);
    expect(by.ipi.outcomes["collapse-aborted-pin"].count).toBeGreaterThan(0);
    expect(by.none.outcomes["collapse-aborted-pin"].count).toBeGreaterThan(0);
  });

  it("pruning is sound: the same counts as running every interleaving (1 pte)", () => {
    for (const fix of ["none", "ipi", "recheck", "upstream"]) {
      const pruned = run(fix, { ptes: 1 });
      const full = explore({ ...DEFAULT_EXPLORE, fix, ptes: 1, noMemo: true });
      expect(pruned.explored, fix).toBe(full.explored);
      expect(pruned.violations, fix).toBe(full.violations);
      expect(pruned.outcomes, fix).toEqual(full.outcomes);
    }
  });

  it("the race needs two preemptions: none is clean within 1, racy within 2", () => {
    expect(run("none", { preemptions: 0 }).violations).toBe(0);
    expect(run("none", { preemptions: 1 }).violations).toBe(0);
    const two = run("none", { preemptions: 2 });
    expect(two.violations).toBeGreaterThan(0);
    expect(two.complete).toBe(true);
    expect(two.explored).toBeLessThan(run("none").explored);
  });

  it("the same table put back by K7 alone (a copy that always fails) is harmless: none is clean", () => {
    const r = run("none~copyFails=true");
    expect(r.complete).toBe(true);
    expect(r.violations).toBe(0);
    expect(r.outcomes["collapse-aborted-copy"].count).toBeGreaterThan(0);
    expect(r.outcomes["collapse-committed"].count).toBe(0);
  });

  it("kvm-pv-flush races only through a host preemption: clean with none allowed, and its race skips a preempted walker", () => {
    expect(run("kvm-pv-flush", { hostPreemptions: 0 }).violations).toBe(0);
    const pv = run("kvm-pv-flush");
    expect(pv.complete).toBe(true);
    expect(pv.violations).toBeGreaterThan(0);
    const t = pv.counterexample?.trace ?? [];
    const racer = t.find((s) => s.step === "G8")?.cpu;
    const at = (step: string, cpu?: number) =>
      t.findIndex((s) => s.step === step && (cpu === undefined || s.cpu === cpu));
    // the walker that raced was out (HP) when K5 broadcast, and flushed on its return (HR, value 1)
    expect(at("HP", racer)).toBeLessThan(at("K5"));
    expect(at("HR", racer)).toBeGreaterThan(at("K5"));
    expect(t.find((s) => s.step === "HR" && s.cpu === racer)?.value).toBe(1);
  });

  it("the rotating-skip mutant with 3 CPUs skips one walker per broadcast and still races; ipi does not", () => {
    const skip = run("ipi~ipiSkipOne=true", { cpus: 3, ptes: 2 });
    expect(skip.violations).toBeGreaterThan(0);
    // the skipped walker is the one that races: the other one acked the IPI
    expect(skip.counterexample?.trace.some((s) => s.step === "IPI")).toBe(true);
    expect(run("ipi", { cpus: 3, ptes: 2 }).violations).toBe(0);
  });

  it("PCT and random find the race under none and nothing under recheck", () => {
    for (const strategy of ["pct", "random"] as const) {
      const racy = run("none", { strategy, runs: 2000, seed: 5 });
      expect(racy.violations, strategy).toBeGreaterThan(0);
      expect(racy.complete).toBe(false);
      expect(racy.explored).toBe(2000);
      expect(run("recheck", { strategy, runs: 2000, seed: 5 }).violations, strategy).toBe(0);
    }
  });

  it("reports outcomes under the stress histogram's keys, all of them", () => {
    const r = run("none");
    expect(Object.keys(r.outcomes)).toEqual(gupVsCollapse.outcomes.map((o) => o.key));
  });
});

/** Clock of the first step matching. */
function at(trace: TraceStep[], step: string, index?: number): number {
  const s = trace.find((t) => t.step === step && (index === undefined || t.index === index));
  if (s === undefined) throw new Error(`no ${step}${index === undefined ? "" : ` page ${index}`}`);
  return s.clock;
}

describe("counterexample", () => {
  it("shows the three conditions (docs/model.md) for the stale page", () => {
    const cex = run("none").counterexample;
    expect(cex).not.toBeNull();
    if (cex === null) return;
    const t = cex.trace;
    const j = cex.index;
    expect(cex.frame).toBeGreaterThanOrEqual(0);
    expect(at(t, "G1")).toBeLessThan(at(t, "K4")); // the walker snapshots the valid pmd
    expect(at(t, "K6", j)).toBeLessThan(at(t, "G5", j)); // the pin lands after the pinned-check
    expect(at(t, "G7", j)).toBeLessThan(at(t, "K8F", j)); // the pte re-read before the pte is cleared
    expect(at(t, "K10")).toBeGreaterThan(at(t, "K8F", j));
    expect(cex.preemptions).toBe(2);
  });

  it("g7-dropped: the ABA, the split puts the same table back between the pin and G6", () => {
    const cex = run("recheck~recheckPte=false").counterexample;
    expect(cex).not.toBeNull();
    if (cex === null) return;
    const t = cex.trace;
    const j = cex.index;
    expect(cex.outcome).toContain("stale-pin");
    expect(at(t, "G1")).toBeLessThan(at(t, "K4"));
    expect(at(t, "K6", j)).toBeLessThan(at(t, "G5", j));
    expect(at(t, "G5", j)).toBeLessThan(at(t, "K8F", j)); // freed while pinned
    expect(at(t, "KS")).toBeLessThan(at(t, "G6", j)); // the same table is back
    const g1 = t.find((s) => s.step === "G1")?.value;
    const g6 = t.find((s) => s.step === "G6")?.value;
    expect(g6).toBe(g1); // pmd_val compares equal: G6 passes
  });

  it("replays exactly: the same steps, the same clocks, the same outcome", () => {
    const cex = run("kvm-pv-flush").counterexample;
    expect(cex).not.toBeNull();
    if (cex === null) return;
    const again = replayTrace(cex.replay);
    expect(again.replay).toBe(cex.replay);
    expect(again.trace).toEqual(cex.trace);
    expect(again.outcome).toEqual(cex.outcome);
    expect(again.frame).toBe(cex.frame);
  });

  it("replay strings round-trip and name their scenario, configuration and walk ranges", () => {
    const text = formatReplay({
      scenario: "gup-vs-collapse",
      fix: "none",
      cpus: 2,
      ptes: 3,
      ranges: [[1, 2]],
      actions: [2, 2, 0, 0, 0, 2],
    });
    expect(text).toBe("v2/gup-vs-collapse/none/c2/p3/w1+2/B2A3B");
    expect(parseReplay(text)).toEqual({
      version: "v2",
      scenario: "gup-vs-collapse",
      fix: "none",
      cpus: 2,
      ptes: 3,
      ranges: [[1, 2]],
      actions: [2, 2, 0, 0, 0, 2],
    });
    expect(() => parseReplay("v3/none/c2/p3/A")).toThrow(/v2/);
    expect(() => parseReplay("v1/nosuchfix/c2/p3/A")).toThrow(/unknown fix/);
    expect(() => parseReplay("v2/nosuch/none/c2/p3/w0+3/A")).toThrow(/unknown scenario/);
    expect(() => parseReplay("v2/gup-vs-collapse/none/c2/p3/w2+2/A")).toThrow(/ranges/);
    expect(() => parseReplay("v2/gup-vs-collapse/none/c2/p3/w0+3/A2000000000")).toThrow(
      /more than/,
    );
  });

  it("v1 strings (before scenarios) still replay: whole-region walks, the rest completed in order", () => {
    // The v1 counterexample for none from before scenarios existed.
    const r = replayTrace("v1/none/c2/p3/B4A7B12A6");
    expect(r.replay).toMatch(/^v2\/gup-vs-collapse\/none\/c2\/p3\/w0\+3\//);
    expect(r.outcome).toContain("stale-pin");
  });

  it("a schedule that does not fit the fix is refused, not silently run", () => {
    // Under ipi the collapse blocks at K5W while the walker has interrupts off:
    // a schedule that walks the collapse straight through cannot be replayed.
    const ok = run("none").counterexample?.replay ?? "";
    expect(() => replayTrace(ok.replace("/none/", "/ipi/"))).toThrow(/not enabled|still enabled/);
  });
});
