// gup-vs-mthp-collapse: a sub-range collapsed into an mTHP, the same table put
// back. The explorer's verdict for every fix over the whole default space, the
// ABA drawn exactly, and a short threaded run that finds the race G6 alone
// lets through.

import { describe, expect, it } from "vitest";
import { DEFAULT_EXPLORE, explore } from "../src/explore/explore.js";
import { mthpProgram, mthpRange } from "../src/kernel/mthp-collapse.js";
import { STEP } from "../src/kernel/steps.js";
import { defaultConfig } from "../src/run/config.js";
import { runStress } from "../src/run/stress.js";
import { gupVsMthpCollapse } from "../src/scenarios/gup-vs-mthp-collapse.js";
import { resolveFix } from "../src/scenarios/index.js";

const NAME = gupVsMthpCollapse.name;
const run = (fix: string) => explore({ ...DEFAULT_EXPLORE, scenario: NAME, fix });

describe("gup-vs-mthp-collapse", () => {
  it("the range is a naturally aligned block smaller than the table", () => {
    for (const ptes of [2, 3, 4, 8, 64]) {
      const { first, n } = mthpRange(ptes);
      expect(n).toBeLessThan(ptes);
      expect(first % n).toBe(0);
      expect(first + n).toBeLessThanOrEqual(ptes);
      expect(n & (n - 1)).toBe(0);
    }
  });

  it("the kernel's order: clear and free the old ptes, set_ptes, then pmd_populate", () => {
    const prog = (name: string) => mthpProgram(resolveFix(gupVsMthpCollapse, name));
    const upstream = prog("upstream");
    const at = (p: number[], s: number) => p.indexOf(s);
    expect(at(upstream, STEP.K4)).toBeLessThan(at(upstream, STEP.K5));
    expect(at(upstream, STEP.K8F)).toBeLessThan(at(upstream, STEP.K10S));
    expect(at(upstream, STEP.K10S)).toBeLessThan(at(upstream, STEP.K10P));
    const early = prog("mthp-populate-before-clear");
    expect(at(early, STEP.K10P)).toBeLessThan(at(early, STEP.K8F));
  });

  it("every fix gives its declared verdict over the whole default space", () => {
    const by = Object.fromEntries(gupVsMthpCollapse.fixes.map((d) => [d.name, run(d.name)]));
    for (const d of gupVsMthpCollapse.fixes) {
      const r = by[d.name];
      expect(r.complete, d.name).toBe(true);
      expect(r.verdict, d.name).toBe(d.expect === "race" ? "race" : "clean");
      expect(r.outcomes.undeclared.count, d.name).toBe(0);
    }
    // The races are the stale pins, and the clean fixes reach the window.
    for (const fix of ["none", "g6-only"]) {
      expect(by[fix].outcomes["stale-pin"].count, fix).toBe(by[fix].violations);
    }
    expect(by.recheck.outcomes["backoff-pte"].count).toBeGreaterThan(0);
    expect(by.recheck.outcomes["mthp-aborted-pin"].count).toBeGreaterThan(0);
    expect(by.upstream.outcomes["mthp-committed"].count).toBeGreaterThan(0);
  });

  it("G6 alone: the counterexample is the ABA, G6 after the same table came back", () => {
    const r = run("g6-only");
    const cex = r.counterexample;
    expect(cex).not.toBeNull();
    if (cex === null) return;
    const at = (cpu: number, step: string, index?: number) =>
      cex.trace.find(
        (s) => s.cpu === cpu && s.step === step && (index === undefined || s.index === index),
      )?.clock ?? Number.NaN;
    const [w, j] = [1, cex.index];
    expect(at(w, "G1")).toBeLessThan(at(0, "K4"));
    expect(at(0, "K6", j)).toBeLessThan(at(w, "G5", j));
    expect(at(w, "G5", j)).toBeLessThan(at(0, "K8F", j));
    expect(at(0, "K10P")).toBeLessThan(at(w, "G6", j));
    // G6 saw the same pmd value the walk's G1 snapshot holds.
    const g1 = cex.trace.find((s) => s.cpu === w && s.step === "G1");
    const g6 = cex.trace.find((s) => s.cpu === w && s.step === "G6");
    expect(g6?.value).toBe(g1?.value);
  });

  it("a short lockstep run (default delays) finds the race G6 alone lets through", async () => {
    const r = await runStress({
      ...defaultConfig(NAME),
      fix: "g6-only",
      cpus: 2,
      seed: 3,
      // stops at the first race; the bounds are for a loaded machine
      iterations: 2_000_000,
      timeMs: 30_000,
      untilRace: true,
    });
    expect(r.aborted).toBeNull();
    expect(r.races).toBeGreaterThan(0);
    expect(r.confirmed).toBe(r.races);
    expect(r.outcomes["stale-pin"].count).toBe(r.races);
  });
});
