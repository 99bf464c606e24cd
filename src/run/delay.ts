// Named delay points (KCSAN-style window wideners): after a chosen step, a
// seeded random busy spin, so that the other side of a race has time to arrive.

import { performance } from "node:perf_hooks";
import { STEP } from "../kernel/steps.js";
import type { DelaySpec } from "./config.js";
import type { Rng } from "./random.js";

let sink = 0;

/** Busy work the JIT cannot remove. */
export function spin(iterations: number): void {
  let x = sink;
  for (let i = 0; i < iterations; i++) x = (Math.imul(x, 1664525) + 1013904223) | 0;
  sink = x;
}

/** Spin iterations per nanosecond on this thread, measured (best of a few tries). */
export function calibrateSpin(): number {
  spin(200_000); // warm the JIT
  let best = 0;
  for (let t = 0; t < 5; t++) {
    const n = 200_000;
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

/** The delay points of one CPU, indexed by step id, with its own random stream. */
export class Delays {
  private readonly maxSpins: Float64Array;
  private readonly prob: Float64Array;
  private readonly startSpins: number;
  private readonly startProb: number;
  private readonly rng: Rng;
  /** spins spent so far, for the record */
  spent = 0;

  constructor(specs: readonly DelaySpec[], rng: Rng, spinsPerNs: number) {
    this.rng = rng;
    this.maxSpins = new Float64Array(64);
    this.prob = new Float64Array(64);
    let startSpins = 0;
    let startProb = 0;
    for (const d of specs) {
      if (d.point === "start") {
        startSpins = d.maxNs * spinsPerNs;
        startProb = d.prob;
        continue;
      }
      const id = STEP[d.point as keyof typeof STEP];
      if (id === undefined) throw new Error(`unknown delay point ${d.point}`);
      this.maxSpins[id] = d.maxNs * spinsPerNs;
      this.prob[id] = d.prob;
    }
    this.startSpins = startSpins;
    this.startProb = startProb;
  }

  /** Maybe spin after `step` ran. */
  after(step: number): void {
    const max = this.maxSpins[step];
    if (max === 0) return;
    this.fire(max, this.prob[step]);
  }

  /** The per-trial start offset. */
  start(): void {
    if (this.startSpins !== 0) this.fire(this.startSpins, this.startProb);
  }

  private fire(max: number, prob: number): void {
    const rng = this.rng;
    if (prob < 1 && rng.float() >= prob) return;
    const n = Math.floor(rng.float() * max);
    this.spent += n;
    spin(n);
  }
}
