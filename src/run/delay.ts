// Named delay points (KCSAN-style window wideners): after a chosen step, a
// seeded random busy spin, so that the other side of a race has time to arrive.

import { performance } from "node:perf_hooks";
import type { Cpu } from "../kernel/cpu.js";
import { hostPreempt, hostResume } from "../kernel/irq.js";
import { STEP, STEP_IDS } from "../kernel/steps.js";
import { DELAY_SCALE_ONE } from "../memory/layout.js";
import type { DelaySpec } from "./delay-spec.js";
import type { Rng } from "./random.js";

let sink = 0;

/** Busy work the JIT cannot remove. */
export function spin(iterations: number): void {
  let x = sink;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
  sink = x;
}

/**
 * Spin iterations per nanosecond on this thread, measured (best of a few
 * tries of about 0.1 ms each: it runs at every CPU's start-up).
 */
export function calibrateSpin(): number {
  spin(100_000); // warm the JIT
  let best = 0;
  for (let t = 0; t < 5; t++) {
    const n = 80_000;
    const t0 = performance.now();
    spin(n);
    const ns = (performance.now() - t0) * 1e6;
    if (ns > 0) best = Math.max(best, n / ns);
  }
  return best > 0 ? best : 1;
}

export const DELAY_POINTS = ["start", ...Object.keys(STEP)] as const;

export function isDelayPoint(p: string): boolean {
  return (DELAY_POINTS as readonly string[]).includes(p);
}

/** Levels a delay point may carry (spins, and as many host preemptions). */
export const LEVELS = 3;
const SLOTS = 2 * LEVELS;

/**
 * The delay points of one CPU, indexed by step id, with its own random stream.
 * A point may carry several levels (a short frequent delay and a long rare
 * one, like FoundationDB's BUGGIFY): each fires on its own. Flat typed arrays:
 * this runs after every step.
 */
export class Delays {
  /** [point * SLOTS + level]: spins at most, and probability */
  private readonly maxSpins = new Float64Array(STEP_IDS * SLOTS);
  private readonly prob = new Float64Array(STEP_IDS * SLOTS);
  /** [point * SLOTS + level]: 1 when the level is a host preemption, not a spin */
  private readonly preempt = new Uint8Array(STEP_IDS * SLOTS);
  /** host-preemption levels per point (each point carries LEVELS spins and LEVELS preemptions) */
  private readonly preempts = new Int32Array(STEP_IDS);
  /** the vCPU a preemption level deschedules (absent: preemption levels spin only) */
  private readonly cpu: Cpu | undefined;
  private readonly count = new Int32Array(STEP_IDS);
  private readonly rng: Rng;
  /** forced delays (DelaySpec.nth): spins by step id, then by occurrence in the trial */
  private readonly forced: (Float64Array | undefined)[] = [];
  /** forced host preemptions: step id -> the occurrences that preempt instead of spinning */
  private readonly forcedPreempt: (Set<number> | undefined)[] = [];
  /** occurrences of each step since the trial started, kept only when some delay is forced */
  private readonly seen = new Int32Array(STEP_IDS);
  private hasForced = false;
  /** spins spent so far, for the record */
  spent = 0;
  /** what every random delay is multiplied by: 1, or the adapter's (CTL.delayScale) */
  private scale = 1;
  private scaleFrom: { i32: Int32Array; index: number; invert: boolean } | null = null;
  /** CTL.delaySleep as read at the trial's start: random delays sleep instead of spinning */
  private sleeping = false;
  private sleepFrom: { i32: Int32Array; index: number } | null = null;
  private readonly spinsPerNs: number;
  /** a word nobody notifies: Atomics.wait on it is a sleep that gives the core away */
  private readonly nap = new Int32Array(new SharedArrayBuffer(4));
  /** random delays slept so far, for the record */
  slept = 0;

  constructor(specs: readonly DelaySpec[], rng: Rng, spinsPerNs: number, cpu?: Cpu) {
    this.rng = rng;
    this.cpu = cpu;
    this.spinsPerNs = spinsPerNs > 0 ? spinsPerNs : 1;
    for (const d of specs) {
      if (d.nth !== undefined) {
        this.force(d, spinsPerNs);
        continue;
      }
      const id = d.point === "start" ? START : STEP[d.point as keyof typeof STEP];
      if (id === undefined) throw new Error(`unknown delay point ${d.point}`);
      const isPreempt = d.preempt === true;
      const spins = this.count[id] - this.preempts[id];
      if ((isPreempt ? this.preempts[id] : spins) === LEVELS) {
        throw new Error(
          `more than ${LEVELS} ${isPreempt ? "preemptions" : "delays"} at ${d.point}`,
        );
      }
      if (d.maxNs <= 0 || d.prob <= 0) continue;
      if (isPreempt) this.preempts[id]++;
      const k = id * SLOTS + this.count[id]++;
      this.maxSpins[k] = d.maxNs * spinsPerNs;
      this.prob[k] = d.prob;
      this.preempt[k] = d.preempt === true ? 1 : 0;
    }
  }

  /** Maybe spin after `step` ran. */
  after(step: number): void {
    if (this.hasForced) this.fireForced(step);
    if (this.count[step] !== 0) this.fire(step);
  }

  /**
   * The per-trial start offset. Interrupts are on here, so `poll` (taking
   * pending IPIs) runs every few hundred spins, as a real CPU would take them.
   */
  start(poll?: () => void): void {
    if (this.scaleFrom !== null) {
      const s = Atomics.load(this.scaleFrom.i32, this.scaleFrom.index) / DELAY_SCALE_ONE;
      this.scale = this.scaleFrom.invert ? 1 / s : s;
    }
    if (this.sleepFrom !== null)
      this.sleeping = Atomics.load(this.sleepFrom.i32, this.sleepFrom.index) !== 0;
    if (this.hasForced) this.seen.fill(0);
    if (this.count[START] !== 0) this.fire(START, poll);
  }

  /**
   * Follow the adapter: from now on every random delay (not a forced one) is
   * scaled by the word at `index` (or by its inverse), re-read at each trial's start.
   */
  followScale(i32: Int32Array, index: number, invert = false): void {
    this.scaleFrom = { i32, index, invert };
  }

  /**
   * Follow the adapter's sleep switch (CTL.delaySleep), re-read at each
   * trial's start: when it is on, every random delay with interrupts off (the
   * start offset, which polls for IPIs, still spins) sleeps for its length.
   * Two CPU threads that share one core (a busy machine) then interleave
   * inside the window: a spinning delay runs out its time slice and the other
   * thread finds the window over; a sleeping one hands it the core. The model
   * does not change: a delay is time passing on one CPU, spun or slept.
   */
  followSleep(i32: Int32Array, index: number): void {
    this.sleepFrom = { i32, index };
  }

  /**
   * Let `spins` worth of time pass: spun, or slept (at least one futex wait:
   * tens of microseconds), which gives the core to another thread.
   */
  private pass(spins: number, sleep: boolean): void {
    if (!sleep) {
      spin(spins);
      return;
    }
    this.slept++;
    Atomics.wait(this.nap, 0, 0, spins / this.spinsPerNs / 1e6);
  }

  private force(d: DelaySpec, spinsPerNs: number): void {
    const id = STEP[d.point as keyof typeof STEP];
    if (id === undefined) throw new Error(`unknown delay point ${d.point} for a forced delay`);
    const nth = d.nth ?? 0;
    const old = this.forced[id];
    const byNth = new Float64Array(Math.max(old?.length ?? 0, nth + 1));
    if (old !== undefined) byNth.set(old);
    byNth[nth] = d.maxNs * spinsPerNs;
    this.forced[id] = byNth;
    if (d.preempt === true) {
      const set = this.forcedPreempt[id] ?? new Set<number>();
      set.add(nth);
      this.forcedPreempt[id] = set;
    }
    this.hasForced = true;
  }

  private fireForced(step: number): void {
    const nth = ++this.seen[step];
    const byNth = this.forced[step];
    if (byNth === undefined || nth >= byNth.length || byNth[nth] === 0) return;
    this.spent += byNth[nth];
    if (this.forcedPreempt[step]?.has(nth) === true) this.preempted(byNth[nth]);
    else spin(byNth[nth]);
  }

  /** A host preemption: the vCPU is out for `spins`, its word set; it takes no IPIs meanwhile. */
  private preempted(spins: number, sleep = false): void {
    const cpu = this.cpu;
    if (cpu !== undefined) hostPreempt(cpu);
    this.pass(spins, sleep);
    if (cpu !== undefined) hostResume(cpu);
  }

  private fire(point: number, poll?: () => void): void {
    const rng = this.rng;
    const n = this.count[point];
    for (let k = point * SLOTS; k < point * SLOTS + n; k++) {
      const prob = this.prob[k];
      if (prob < 1 && rng.float() >= prob) continue;
      const spins = Math.floor(rng.float() * this.maxSpins[k] * this.scale);
      this.spent += spins;
      if (this.preempt[k] === 1)
        this.preempted(spins, this.sleeping || rng.float() < PREEMPT_SLEEP_SHARE);
      else if (poll === undefined) this.pass(spins, this.sleeping);
      else {
        for (let left = spins; left > 0; left -= POLL_SPINS) {
          spin(Math.min(left, POLL_SPINS));
          poll();
        }
      }
    }
  }
}

/**
 * The share of host preemptions that sleep (a futex wait for their length,
 * at least tens of microseconds) rather than spin, whatever the adapter says.
 * A preempted vCPU gives its physical CPU away; a spinning thread does not,
 * and where two CPU threads share a core (a busy machine) the CPU that should
 * act while this one is out never runs meanwhile.
 */
const PREEMPT_SLEEP_SHARE = 0.25;

/** Slot of the start offset (no step has id 0). */
const START = 0;
/** Spins between two polls for IPIs in a delay with interrupts on. */
const POLL_SPINS = 256;
