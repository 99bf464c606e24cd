// RunConfig.warmMs (the bench's cost runs): nothing is sampled before the
// warm-up ends, and a run that never gets past it counts from its start.

import { describe, expect, it } from "vitest";
import { defaultConfig } from "../src/run/config.js";
import { runStress } from "../src/run/stress.js";

describe("a run's warm-up window", () => {
  const base = {
    ...defaultConfig(),
    fix: "recheck",
    mode: "freerun" as const,
    trace: false,
    delays: [],
    sampleEvery: 1,
  };

  it("a warm-up longer than the run: no latency sample, the counts from the start", async () => {
    const r = await runStress({ ...base, timeMs: 150, warmMs: 60_000 });
    expect(r.aborted).toBeNull();
    expect(r.gupCalls).toBeGreaterThan(0);
    expect(r.samples?.gupNs.length).toBe(0);
    expect(r.samples?.collapseNs.length).toBe(0);
  });

  it("a short warm-up: samples and counts after it", async () => {
    const r = await runStress({ ...base, timeMs: 250, warmMs: 20 });
    expect(r.aborted).toBeNull();
    expect(r.gupCalls).toBeGreaterThan(0);
    expect(r.samples?.gupNs.length).toBeGreaterThan(0);
    expect(r.samples?.collapseNs.length).toBeGreaterThan(0);
    // Every sampled call was counted: the counts are of the same window.
    expect(r.samples?.gupNs.length).toBeLessThanOrEqual(r.gupCalls);
  });
});
