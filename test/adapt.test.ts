// The adapting window (src/run/adapt.ts): it measures the window hit rate at
// each scale of the walkers' delays, keeps the best, and measures again when
// the rate falls. Driven here with counters written by hand, then on threads.

import { describe, expect, it } from "vitest";
import { STEP } from "../src/kernel/steps.js";
import { CTL, DELAY_SCALE_ONE, Memory, STAT, STAT_OUTCOME_BASE } from "../src/memory/layout.js";
import { DelayAdapter, scalesAround } from "../src/run/adapt.js";
import { defaultConfig } from "../src/run/config.js";
import { Delays } from "../src/run/delay.js";
import { Rng } from "../src/run/random.js";
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

  it("no window hit at any scale, spun or slept, keeps the delays as given", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    let t = 1;
    a.tick(t);
    for (let k = 0; k < 4; k++) t = period(mem, a, t + 450, () => 0);
    expect(scaleOf(mem)).toBe(1);
    expect(mem.load(CTL.delaySleep)).toBe(0);
    expect(a.result().tries.map((x) => [x.scale, x.sleep])).toEqual([
      [1, false],
      [1, true],
      [0.5, false],
      [2, false],
    ]);
  });

  it("blind while spinning: the delays sleep next, and keep sleeping when that reaches the window", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    let t = 1;
    a.tick(t);
    const sleeping = () => mem.load(CTL.delaySleep) !== 0;
    // Two threads on one core: spun delays never overlap the other side.
    const shared = () => (sleeping() ? 30 : 0);
    // 256 blind trials end a measurement early (no 400 ms wait).
    t = period(mem, a, t + 5, shared);
    expect(sleeping()).toBe(true);
    expect(scaleOf(mem)).toBe(1);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, shared);
    expect(sleeping()).toBe(true);
    const r = a.result();
    expect(r.sleep).toBe(true);
    expect(r.tries.map((x) => [x.scale, x.sleep, x.hits])).toEqual([
      [1, false, 0],
      [1, true, 30],
      [0.5, false, 0],
      [2, false, 0],
    ]);
  });

  it("a scale that hits the window is measured to its full evidence, and nothing sleeps", () => {
    const mem = memory();
    const a = new DelayAdapter(mem, gupVsCollapse);
    let t = 1;
    a.tick(t);
    for (let k = 0; k < 3; k++) t = period(mem, a, t + 450, () => 10);
    expect(a.result().tries.every((x) => !x.sleep)).toBe(true);
    expect(mem.load(CTL.delaySleep)).toBe(0);
  });

  it("a sleeping delay sleeps, from the next trial on; the start offset (interrupts on) still spins", () => {
    const word = new Int32Array(new SharedArrayBuffer(4));
    const specs = [
      { point: "start", maxNs: 1000, prob: 1 },
      { point: "G1", maxNs: 2_000_000, prob: 1 },
    ];
    const d = new Delays(specs, new Rng(1, 1), 1);
    d.followSleep(word, 0);
    d.start(() => {});
    d.after(STEP.G1);
    expect(d.slept).toBe(0);
    Atomics.store(word, 0, 1);
    d.after(STEP.G1); // the switch is read at a trial's start
    expect(d.slept).toBe(0);
    let polls = 0;
    d.start(() => polls++);
    for (let k = 0; k < 4; k++) d.after(STEP.G1);
    expect(d.slept).toBe(4);
    expect(polls).toBeGreaterThan(0);
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
