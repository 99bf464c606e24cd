// The race-finding tests again, with the machine busy: as many busy loops as
// there are cores, started and ended here. A racy fix still races within the
// bound; a clean fix is clean or inconclusive, never a false race.

import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "../src/run/config.js";
import { runStress } from "../src/run/stress.js";
import { judge } from "../src/run/verdict.js";

const hogs: ChildProcess[] = [];

beforeAll(() => {
  for (let i = 0; i < availableParallelism(); i++) {
    // Bounded: a hog outlives a killed test run by at most 90 s.
    const loop = "const end = Date.now() + 90000; while (Date.now() < end) {}";
    hogs.push(spawn(process.execPath, ["-e", loop], { stdio: "ignore" }));
  }
});

afterAll(() => {
  for (const h of hogs) h.kill("SIGKILL");
});

describe(`under load (${availableParallelism()} busy loops beside the run)`, () => {
  it("fix none still races within the bound", async () => {
    const r = await runStress({
      ...defaultConfig(),
      fix: "none",
      cpus: 2,
      seed: 11,
      timeMs: 30_000,
      untilRace: true,
    });
    expect(r.aborted).toBeNull();
    expect(r.races).toBeGreaterThan(0);
  });

  for (const fix of ["recheck", "upstream"]) {
    it(`fix ${fix} is clean or inconclusive, never a false race`, async () => {
      const r = await runStress({ ...defaultConfig(), fix, cpus: 2, seed: 12, timeMs: 2000 });
      expect(r.aborted).toBeNull();
      expect(r.races).toBe(0);
      const j = judge(r.outcomes, "clean", {
        windowHits: r.windowHits,
        minWindowHits: 10,
        control: null,
      });
      expect(["as expected", "inconclusive"]).toContain(j.judgement);
    });
  }
});
