// More CPUs than cores: waits fall back to Atomics.wait with timeouts, idle
// GUP CPUs sleep where an IPI can wake them, and nothing livelocks.

import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../src/run/config.js";
import { runStress } from "../src/run/stress.js";

describe("16 CPUs on this machine", () => {
  it(`lockstep, fix ipi: every broadcast is answered by 15 CPUs on ${availableParallelism()} cores`, async () => {
    const r = await runStress({
      ...defaultConfig(),
      cpus: 16,
      fix: "ipi",
      seed: 5,
      iterations: 320,
      timeMs: 60_000,
    });
    expect(r.aborted).toBeNull();
    expect(r.iterations).toBeGreaterThanOrEqual(320);
    expect(r.gupCalls).toBe(r.iterations * 15);
    expect(r.ipi.handlerEntries).toBe(r.ipi.broadcasts * 15);
    expect(r.races).toBe(0);
  });

  it("freerun, fix upstream: runs for its time and stops cleanly", async () => {
    const r = await runStress({
      ...defaultConfig(),
      cpus: 16,
      fix: "upstream",
      mode: "freerun",
      seed: 5,
      regions: 64,
      timeMs: 1500,
    });
    expect(r.aborted).toBeNull();
    expect(r.gupCalls).toBeGreaterThan(1000);
    expect(r.mutatorOps.total).toBeGreaterThan(0);
    expect(r.races).toBe(0);
  });
});
