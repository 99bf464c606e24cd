// The JIT delay (src/run/jit.ts): the flags it sets exist in the running
// Node's V8, a run records them, and --eager-jit (eagerJit) sets none; with
// more CPUs than cores they are set once every CPU's thread has started.

import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../src/run/config.js";
import { turbofanDelayFlags } from "../src/run/jit.js";
import { runStress } from "../src/run/stress.js";

describe("the JIT delay", () => {
  it("names flags by V8 version, and every one exists in this Node's V8", () => {
    expect(turbofanDelayFlags("11.3.244.8-node.38")).toEqual(["--interrupt-budget=1351680"]);
    for (const v of ["12.4.254.21-node.57", "13.6.233.17-node.53"]) {
      expect(turbofanDelayFlags(v).map((f) => f.split("=")[0])).toEqual([
        "--invocation-count-for-maglev",
        "--invocation-count-for-turbofan",
        "--invocation-count-for-maglev-osr",
        "--invocation-count-for-osr",
      ]);
    }
    // V8 prints an error for an unknown flag and goes on: check the names against its list.
    const known = execFileSync(process.execPath, ["--v8-options"], { encoding: "utf8" });
    for (const f of turbofanDelayFlags()) {
      const name = f.slice(0, f.indexOf("="));
      expect(known).toContain(`  ${name} (`);
    }
  });

  it("a run records the flags it set; an eager one records none", async () => {
    const base = { ...defaultConfig(), iterations: 32, trace: false };
    const delayed = await runStress(base);
    expect(delayed.aborted).toBeNull();
    expect(delayed.calibration.jitFlags).toEqual(turbofanDelayFlags());
    const eager = await runStress({ ...base, eagerJit: true });
    expect(eager.aborted).toBeNull();
    expect(eager.calibration.jitFlags).toBeNull();
  });

  it("with more CPUs than cores, CPU 0 sets them once every thread has started", async () => {
    // CpuTask.jitWhenAllStarted: CPU 0 waits for the others' threads (CTL.started) first.
    const cpus = Math.min(64, availableParallelism() + 2);
    const r = await runStress({ ...defaultConfig(), cpus, iterations: 16, trace: false });
    expect(r.aborted).toBeNull();
    expect(r.faults).toEqual([]);
    expect(r.calibration.jitFlags).toEqual(turbofanDelayFlags());
  });
});
