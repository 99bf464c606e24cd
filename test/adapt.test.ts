// The adapting window (src/run/adapt.ts): it measures the window hit rate at
// each scale of the walkers' delays, keeps the best, and measures again when
// the rate falls. Driven here with counters written by hand, then on threads.

import { describe, expect, it } from "vitest";
import { CTL, DELAY_SCALE_ONE, Memory, STAT, STAT_OUTCOME_BASE } from "../src/memory/layout.js";
import { DelayAdapter, scalesAround } from "../src/run/adapt.js";
import { defaultConfig } from "../src/run/config.js";
import { runStress } from "../src/run/stress.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";
import { outcomeIndex } from "../src/scenarios/scenario.js";

const BACKOFF = STAT_OUTCOME_BASE + outcomeIndex(gupVsCollapse, "backoff-pte");
const PINNED = STAT_OUTCOME_BASE + outcomeIndex(gupVsCollapse, "pinned");

function memory(): Memory {
  return new Memory({ cpus: 2, regions: 1, ptes: 2, frames: 8, traceRing: 4 });
}

function add(mem: Memory, stat: number, n: number): void {
  const i = mem.stat(1, stat);
  Atomics.store(mem.i64, i, Atomics.load(mem.i64, i) + BigInt(n));
}

const scaleOf = (mem: Memory) => mem.load(CTL.delayScale) / DELAY_SCALE_ONE;

/** Run trials at the current scale: hits per 1000 from `rateAt(scale)`. */
function period(mem: Memory, a: DelayAdapter, t: number, rateAt: (s: number) => number): number {
  const s = scaleOf(mem);
  add(mem, STAT.iterations, 1000);
  add(mem, BACKOFF, rateAt(s));
  add(mem, PINNED, 1000 - rateAt(s)); // not a window outcome: must not count
  a.tick(t);
  return t;
}

describe("the adapting window", () => {
  it("tries the scale as given, half and twice it, and keeps the best on enough evidence", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    expect(scaleOf(mem)).toBe(1);
    let t = 1;
    a.tick(t);
    const rateAt = (s: number) => (s === 0.5 ? 50 : 20);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, rateAt);
    expect(scaleOf(mem)).toBe(0.5);
    const r = a.result();
    expect(r.tries.map((x) => x.scale)).toEqual([1, 0.5, 2]);
    expect(r.tries.find((x) => x.scale === 0.5)?.hits).toBe(50);
    expect(r.rate).toBeCloseTo(0.05);
    expect(r.recalibrations).toBe(0);
  });

  it("a scale that beats the delays as given by less than half again is not taken", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    let t = 1;
    a.tick(t);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, (s) => (s === 2 ? 25 : 20));
    expect(scaleOf(mem)).toBe(1);
  });

  it("measures again around the scale in force when the rate falls below a quarter, and walks on", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    let t = 1;
    a.tick(t);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, (s) => (s === 2 ? 40 : 4));
    expect(scaleOf(mem)).toBe(2);
    // Steady: the same rate keeps the scale.
    t = period(mem, a, t + 600, (s) => (s === 2 ? 40 : 4));
    expect(a.result().recalibrations).toBe(0);
    // The load changed: the window is now at x4 and beyond.
    const loaded = (s: number) => (s >= 4 ? 30 : 5);
    t = period(mem, a, t + 600, loaded);
    expect(a.result().recalibrations).toBe(1);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, loaded);
    expect(a.result().tries.map((x) => x.scale)).toEqual(scalesAround(2));
    expect(scaleOf(mem)).toBe(4);
  });

  it("no window hit at any scale keeps the delays as given", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    let t = 1;
    a.tick(t);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, () => 0);
    expect(scaleOf(mem)).toBe(1);
  });

  it("on threads: the summary's calibration is filled in, and --no-adapt leaves it out", async () => {
    const base = { ...defaultConfig(), fix: "recheck", cpus: 2, timeMs: 1500 };
    const on = await runStress(base);
    expect(on.calibration.adapt).not.toBeNull();
    // What it measured depends on the load (unit tests above check that); its scale is in range.
    expect(on.calibration.adapt?.scale).toBeGreaterThanOrEqual(1 / 8);
    expect(on.calibration.adapt?.scale).toBeLessThanOrEqual(8);
    expect(on.calibration.spinsPerNs).toHaveLength(2);
    expect(on.calibration.load.before).toBeGreaterThanOrEqual(0);
    const off = await runStress({ ...base, adapt: false, timeMs: 300 });
    expect(off.calibration.adapt).toBeNull();
  });
});
