// Host preemption of a vCPU (KVM steal time) and the PV TLB flush that reads
// it: the schedule encoding, the explorer's preemption action, the delay
// point that preempts on threads, and the command line.

import { describe, expect, it } from "vitest";
import { UsageError } from "../src/cli/args.js";
import { planStress } from "../src/cli/stress-command.js";
import { DEFAULT_EXPLORE, explore, replayTrace } from "../src/explore/explore.js";
import {
  agentOf,
  decodeSchedule,
  encodeSchedule,
  hostToggle,
  isHostToggle,
  isInterrupt,
} from "../src/explore/scheduler.js";
import { Cpu } from "../src/kernel/cpu.js";
import { STEP, stepName } from "../src/kernel/steps.js";
import { readRing } from "../src/kernel/trace.js";
import { CPU_A, Memory, TRACE } from "../src/memory/layout.js";
import { Delays } from "../src/run/delay.js";
import { Rng } from "../src/run/random.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";
import { resolveFix } from "../src/scenarios/index.js";

describe("host preemption in schedules", () => {
  it("^B is CPU 1's host toggle; schedules without one read as before", () => {
    const acts = [0, 2, 2, hostToggle(1), 0, 0, hostToggle(1), 3];
    const text = encodeSchedule(acts);
    expect(text).toBe("AB2^BA2^Bb");
    expect(decodeSchedule(text)).toEqual(acts);
    expect(agentOf(hostToggle(1))).toBe(1);
    expect(isHostToggle(hostToggle(1))).toBe(true);
    expect(isInterrupt(hostToggle(1))).toBe(false);
    expect(decodeSchedule("B4A12B4A8")).toEqual([
      2,
      2,
      2,
      2,
      ...Array(12).fill(0),
      2,
      2,
      2,
      2,
      ...Array(8).fill(0),
    ]);
    expect(() => decodeSchedule("^b")).toThrow(/capitals/);
  });

  it("a replay string printed before the rename (fix ipi-skip) runs as the rotating-skip mutant", () => {
    const r = replayTrace("v2/gup-vs-collapse/ipi-skip/c2/p3/w0+1/B4A12B4A8");
    expect(r.replay).toMatch(/^v2\/gup-vs-collapse\/ipi~ipiSkipOne=true\//);
    expect(r.outcome).toContain("stale-pin");
  });
});

describe("kvm-pv-flush explored", () => {
  it("collapse: clean without host preemption, racy with one, and the racer was out at K5", () => {
    const none = explore({ ...DEFAULT_EXPLORE, fix: "kvm-pv-flush", hostPreemptions: 0 });
    expect(none.complete).toBe(true);
    expect(none.violations).toBe(0);
    const one = explore({ ...DEFAULT_EXPLORE, fix: "kvm-pv-flush" });
    expect(one.complete).toBe(true);
    expect(one.violations).toBeGreaterThan(0);
    const t = one.counterexample?.trace ?? [];
    const at = (step: string) => t.findIndex((s) => s.step === step);
    expect(at("HP")).toBeLessThan(at("K5"));
    expect(t[at("K5")].value).toBe(0); // the broadcast reached nobody
    expect(at("HR")).toBeGreaterThan(at("K5"));
    expect(t[at("HR")].value).toBe(1); // it flushed on its way back in
    // the replay string carries the preemption and runs again
    expect(one.counterexample?.replay).toMatch(/\^B/);
    expect(replayTrace(one.counterexample?.replay ?? "").outcome).toContain("stale-pin");
  });

  it("a fix that never reads the preempted word explores no preemption by default", () => {
    const a = explore({ ...DEFAULT_EXPLORE, fix: "ipi" });
    const b = explore({ ...DEFAULT_EXPLORE, fix: "ipi", hostPreemptions: 0 });
    expect(a.explored).toBe(b.explored);
    const c = explore({ ...DEFAULT_EXPLORE, fix: "ipi", hostPreemptions: 1, ptes: 1 });
    expect(c.violations).toBe(0); // a preempted walker on bare metal is only a pause
  });
});

/** CPU 1 under kvm-pv-flush, with a host preemption after every G1 (up to 100 spins). */
function preemptedWalker(seed: number): { mem: Memory; d: Delays } {
  const mem = new Memory({ cpus: 2, regions: 1, ptes: 1, frames: 8, traceRing: 16 });
  const cpu = new Cpu(mem, 1, resolveFix(gupVsCollapse, "kvm-pv-flush"));
  const d = new Delays(
    [{ point: "G1", maxNs: 100, prob: 1, preempt: true }],
    new Rng(seed, 1),
    1,
    cpu,
  );
  return { mem, d };
}

describe("host preemption on threads", () => {
  it("a preemption delay point sets the steal-time word for its length and clears it after", () => {
    const { mem, d } = preemptedWalker(1);
    d.after(STEP.G1);
    const steps = readRing(mem, 1).map((e) => stepName(e.fields[TRACE.step]));
    expect(steps).toEqual(["HP", "HR"]);
    expect(mem.load(mem.cpuA(1, CPU_A.preempted))).toBe(0);
  });

  it("about one host preemption in four sleeps instead of spinning, and each still sets and clears the word", () => {
    const { mem, d } = preemptedWalker(7);
    for (let k = 0; k < 400; k++) d.after(STEP.G1);
    // Binomial(400, 1/4): 100 expected; 60..140 is more than 4 standard deviations each side.
    expect(d.slept).toBeGreaterThan(60);
    expect(d.slept).toBeLessThan(140);
    expect(mem.load(mem.cpuA(1, CPU_A.preempted))).toBe(0);
  });

  it("--preempt adds a preemption point, --no-preempt drops the defaults, a bad one is a usage error", () => {
    const preempts = (argv: string[]) =>
      planStress(["--fix", "kvm-pv-flush", ...argv]).configs[0].delays.filter((d) => d.preempt);
    expect(preempts([]).length).toBeGreaterThan(0);
    expect(preempts(["--no-preempt"])).toEqual([]);
    expect(preempts(["--no-preempt", "--preempt", "G3=5000@0.5"])).toEqual([
      { point: "G3", maxNs: 5000, prob: 0.5, preempt: true },
    ]);
    // --delay at the same point keeps the preemption there
    const g1 = planStress(["--fix", "kvm-pv-flush", "--delay", "G1=100"]).configs[0].delays;
    expect(g1.filter((d) => d.point === "G1" && d.preempt).length).toBe(1);
    expect(() => planStress(["--preempt", "G1=abc"])).toThrow(UsageError);
    expect(() => planStress(["--preempt", "NOPE=5"])).toThrow(/--preempt 'NOPE=5': unknown point/);
  });
});
