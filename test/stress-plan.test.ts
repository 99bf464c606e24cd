// What `stress` plans from its flags: scenario defaults, a mutant's own
// stress run, the control and the matrix's stop at the first race.

import { describe, expect, it } from "vitest";
import { planStress } from "../src/cli/stress-command.js";

describe("planStress", () => {
  it("a mutant id brings the stress run it declares; flags given win", () => {
    const [c] = planStress(["--fix", "g7-dropped"]).configs;
    expect(c.fix).toBe("recheck~recheckPte=false");
    expect(c.mode).toBe("freerun");
    expect(c.regions).toBe(2);
    expect(c.holdPins).toBe(1);
    expect(c.delays.some((d) => d.point === "G5")).toBe(true);
    const [given] = planStress(["--fix", "g7-dropped", "--regions", "5"]).configs;
    expect(given.regions).toBe(5);
    // The same weakened fix by its knobs is not a mutant id: the plain defaults.
    const [knobs] = planStress(["--fix", "recheck~recheckPte=false"]).configs;
    expect(knobs.mode).toBe("lockstep");
  });

  it("--fix all: the baseline runs first as the control; racy fixes stop at their first race", () => {
    const p = planStress(["--fix", "all"]);
    expect(p.configs.map((c) => c.fix)).toEqual([
      "none",
      "ipi",
      "recheck",
      "upstream",
      "kvm-pv-flush",
    ]);
    expect(p.control).toBe(0);
    expect(p.configs.map((c) => c.untilRace)).toEqual([true, false, false, false, true]);
    expect(p.expects).toEqual(["race", "clean", "clean", "clean", "race"]);
  });

  it("every trial starts on a barrier and the JIT waits, unless --no-barrier / --eager-jit", () => {
    const [d] = planStress(["--fix", "none"]).configs;
    expect(d.trialBarrier).not.toBe(false);
    expect(d.eagerJit).not.toBe(true);
    const [c] = planStress(["--fix", "none", "--no-barrier", "--eager-jit"]).configs;
    expect(c.trialBarrier).toBe(false);
    expect(c.eagerJit).toBe(true);
  });

  it("--control puts the baseline before a single fix; a single fix keeps its own expectation", () => {
    const p = planStress(["--fix", "upstream", "--control"]);
    expect(p.configs.map((c) => c.fix)).toEqual(["none", "upstream"]);
    expect(p.expects).toEqual(["race", "clean"]);
    expect(planStress(["--fix", "none"]).expects).toEqual(["race"]);
    expect(planStress(["--fix", "none", "--expect", "clean"]).expects).toEqual(["clean"]);
  });
});

describe("a matrix on a loaded machine runs on for evidence", () => {
  it("--fix all with the default time: every fix may run on to 4 times its slice (a racy one until it races); not with --time or a single fix", () => {
    const p = planStress(["--fix", "all"]);
    expect(p.configs.map((c) => c.evidence)).toEqual(
      p.expects.map((e) => ({
        minWindowHits: e === "race" ? Number.MAX_SAFE_INTEGER : 10,
        capMs: 20_000,
      })),
    );
    expect(planStress(["--fix", "all", "--min-window", "3"]).configs[1].evidence).toEqual({
      minWindowHits: 3,
      capMs: 20_000,
    });
    expect(planStress(["--fix", "all", "--time", "2"]).configs[1].evidence).toBeUndefined();
    expect(planStress(["--fix", "recheck"]).configs[0].evidence).toBeUndefined();
  });

  it("a run whose evidence is out of reach goes on to the cap, no further", async () => {
    const { runStress } = await import("../src/run/stress.js");
    const { defaultConfig } = await import("../src/run/config.js");
    // A clean fix (no race to stop it) asked for more window hits than 1.2 s can give.
    const blind = {
      ...defaultConfig(),
      fix: "recheck",
      cpus: 2,
      seed: 3,
      timeMs: 200,
      evidence: { minWindowHits: 1e9, capMs: 1200 },
    };
    const r = await runStress(blind);
    expect(r.races).toBe(0);
    expect(r.windowHits).toBeGreaterThan(0);
    expect(r.durationMs).toBeGreaterThanOrEqual(1200);
  });
});
