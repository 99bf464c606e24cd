// A warm start: before a CPU comes online, its worker runs the scenario's own
// step code (the same mutator and walker programs, the same Memory class,
// ipiTake) on private scratch memory, one thread playing both sides in a
// random interleaving, the way the explorer drives them (src/explore/model.ts).
// The JIT has then compiled the steps when the run's clock starts: a cold
// worker spends its first milliseconds interpreting them, slowly enough to
// miss the window. Nothing here touches the run's memory or its counts.

import { Cpu } from "../kernel/cpu.js";
import type { Fix } from "../kernel/fixes.js";
import { canTakeIpi, ipiTake } from "../kernel/irq.js";
import { type Geometry, Memory } from "../memory/layout.js";
import type { Scenario } from "../scenarios/scenario.js";
import { Rng } from "./random.js";

/**
 * Trials at most, and the time they may take (ms), before a CPU comes online;
 * with a core to spare (CpuTask.warmWhileWaiting) it goes on (up to
 * WARMUP_MAX_TRIALS, WARMUP_MAX_MS) while it waits for the others. With
 * V8's optimisation delayed (src/run/jit.ts), 16 or 64 trials gave the same
 * first race (median 4.5 ms idle, 16 cold runs each, side by side), and 16
 * came online a few ms sooner.
 */
export const WARMUP_TRIALS = 16;
export const WARMUP_MS = 15;
export const WARMUP_MAX_TRIALS = 400;
/**
 * Milliseconds of warm-up in all, waiting included: a CPU that warms while
 * another is still starting takes a core from it when the machine is busy.
 */
export const WARMUP_MAX_MS = 30;

/** Regions of the scratch memory: a few, so that the steps see more than one. */
const REGIONS = 4;

export interface WarmUp {
  trials: number;
  ms: number;
}

/**
 * Trials of a scenario under a fix on scratch memory: CPU 0's trial
 * operation interleaved at random with one walk by CPU 1, the walk graded
 * and released, then the follow-ups; IPIs are taken by CPU 1 whenever
 * interrupts allow. Every other trial is traced when `tracing`, as lockstep
 * traces some trials and not others. A trial in which no CPU can step ends
 * the warm-up (bounded: never a wait).
 */
export class Warmer {
  private readonly scenario: Scenario;
  private readonly mem: Memory;
  private readonly mutatorCpu: Cpu;
  private readonly walkerCpu: Cpu;
  private readonly op: Parameters<Scenario["mutator"]["step"]>[1];
  private readonly w: unknown;
  private readonly rng: Rng;
  private readonly ptes: number;
  private readonly tracing: boolean;
  private stuck = false;
  /** what it ran so far */
  readonly done: WarmUp = { trials: 0, ms: 0 };

  /**
   * `like`: the run's geometry. The scratch one is a copy made the way the
   * worker got the run's (a structured clone), so that the step code sees
   * objects of the same shape in the warm-up and in the run.
   */
  constructor(scenario: Scenario, fix: Fix, like: Geometry, tracing: boolean, seed: number) {
    const t0 = performance.now();
    const ptes = like.ptes;
    this.scenario = scenario;
    this.ptes = ptes;
    this.tracing = tracing;
    const geo = structuredClone(like);
    // Two CPUs and no bystanders: a broadcast waits for CPU 1 alone.
    geo.cpus = 2;
    geo.bystanders = 0;
    geo.regions = REGIONS;
    geo.frames = scenario.frames({ cpus: 2, regions: REGIONS, ptes, heldWalks: 0 });
    geo.tables = scenario.tables?.({ regions: REGIONS, ptes });
    geo.traceRing = 64;
    geo.mutatorRing = 64;
    this.mem = new Memory(geo);
    scenario.setup(this.mem);
    this.mutatorCpu = new Cpu(this.mem, 0, fix, false);
    this.walkerCpu = new Cpu(this.mem, 1, fix, false);
    this.op = scenario.mutator.create(this.mutatorCpu);
    this.w = scenario.walker.create(ptes);
    this.rng = new Rng(seed, 0x7761726d);
    this.done.ms += performance.now() - t0;
  }

  /** Whether more trials can run: none got stuck, below WARMUP_MAX_TRIALS and WARMUP_MAX_MS. */
  more(): boolean {
    return !this.stuck && this.done.trials < WARMUP_MAX_TRIALS && this.done.ms < WARMUP_MAX_MS;
  }

  /** Run trials until `trials` in all, or `budgetMs` from now; returns whether more can run. */
  run(trials: number, budgetMs: number): boolean {
    const t0 = performance.now();
    const { scenario, mem, mutatorCpu, walkerCpu, op, w, rng, ptes } = this;
    const { mutator, walker } = scenario;
    let t = this.done.trials;
    for (; t < trials && !this.stuck; t++) {
      if ((t & 7) === 7 && performance.now() - t0 > budgetMs) break;
      mutatorCpu.tracing = walkerCpu.tracing = this.tracing && (t & 1) === 1;
      const region = t % REGIONS;
      const first = rng.below(ptes);
      mutator.start(mutatorCpu, op, region, 0);
      walker.start(w, region, first, 1 + rng.below(ptes - first));
      if (!interleave(mem, scenario, op, w, mutatorCpu, walkerCpu, rng)) this.stuck = true;
      else if (walker.grade(mem, w, 1).outcome < 0) this.stuck = true;
      else {
        walker.release(walkerCpu, w);
        for (let phase = 1; phase < scenario.phases && !this.stuck; phase++) {
          mutator.start(mutatorCpu, op, region, phase);
          this.stuck = !interleave(mem, scenario, op, null, mutatorCpu, walkerCpu, rng);
        }
      }
    }
    this.done.trials = t;
    this.done.ms += performance.now() - t0;
    return this.more();
  }
}

/** Run up to `trials` trials (at most `budgetMs`) on fresh scratch memory. */
export function warmUp(
  scenario: Scenario,
  fix: Fix,
  like: Geometry,
  tracing: boolean,
  seed: number,
  trials = WARMUP_TRIALS,
  budgetMs = WARMUP_MS,
): WarmUp {
  const warmer = new Warmer(scenario, fix, like, tracing, seed);
  warmer.run(trials, budgetMs);
  return warmer.done;
}
/** Step both sides in a random order until both are done; false if neither can step. */
function interleave(
  mem: Memory,
  scenario: Scenario,
  op: Parameters<Scenario["mutator"]["step"]>[1],
  w: unknown,
  mutatorCpu: Cpu,
  walkerCpu: Cpu,
  rng: Rng,
): boolean {
  const { mutator, walker } = scenario;
  for (;;) {
    const m = !mutator.done(op) && !mutator.blocked(mem, op);
    const g = w !== null && !walker.done(w);
    const i = canTakeIpi(walkerCpu);
    const n = (m ? 1 : 0) + (g ? 1 : 0) + (i ? 1 : 0);
    if (n === 0) return mutator.done(op) && (w === null || walker.done(w));
    let k = rng.below(n);
    if (m && k-- === 0) mutator.step(mutatorCpu, op);
    else if (g && k-- === 0) walker.step(walkerCpu, w);
    else ipiTake(walkerCpu);
  }
}
