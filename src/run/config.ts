// What one stress run is asked to do. Plain data: it crosses into the workers.

import { availableParallelism } from "node:os";

export type Mode = "lockstep" | "freerun";

import { DEFAULT_SCENARIO, scenarioByName } from "../scenarios/index.js";
import type { MutantDecl } from "../scenarios/scenario.js";
import type { DelaySpec } from "./delay-spec.js";

export type { DelaySpec };

export interface RunConfig {
  scenario: string;
  fix: string;
  mode: Mode;
  /** CPU 0 runs the scenario's mutator, the rest are GUP-fast */
  cpus: number;
  seed: number;
  /** lockstep: regions per round (the stride); freerun: regions in the address space */
  regions: number;
  /** pages per region (PTEs per table) */
  ptes: number;
  /** stop after this many iterations (lockstep: region trials; freerun: GUP-fast calls) */
  iterations: number | null;
  /** stop after this long */
  timeMs: number | null;
  /** stop at the first race */
  untilRace: boolean;
  /**
   * run on past timeMs, up to capMs, while the verdict lacks evidence: no
   * race yet and fewer than minWindowHits window hits (a matrix on a loaded
   * machine: more time, not an inconclusive verdict)
   */
  evidence?: { minWindowHits: number; capMs: number };
  delays: DelaySpec[];
  /**
   * scale the walkers' random delays to keep hitting the race window under
   * load (src/run/adapt.ts); off: the delays exactly as given
   */
  adapt: boolean;
  /** a CPU that does not answer within this long is reported as stuck */
  stallMs: number;
  /** freerun: walks whose pins a GUP CPU holds before releasing the oldest */
  holdPins: number;
  /** record every step with a global clock stamp (needed to draw the first race) */
  trace: boolean;
  /** test-only fault injection, see src/run/faults.ts */
  fault: string | null;
  /** lockstep: every walk covers pages [first, first + count) instead of a random range (forced-delay replays) */
  range?: readonly [number, number];
  /**
   * lockstep: start every trial behind a barrier (default on): CPU 0
   * announces the trial and starts its operation once every GUP CPU has seen
   * the announcement. Without it a CPU that falls
   * behind (descheduled, or in cold code) walks regions whose operation is
   * over, and the trials overlap nothing; forced-delay replays need it.
   * false (--no-barrier) is kept only while every CPU has a core of its own
   */
  trialBarrier?: boolean;
  /**
   * keep V8's default tier-up (TurboFan within milliseconds, its compile
   * threads taking cores in the first second); by default a run delays it
   * (src/run/jit.ts). The bench sets it: its rounds measure compiled code
   */
  eagerJit?: boolean;
  /** time every Nth GUP-fast call and collapse for latency percentiles (0: none; the benchmarks set it) */
  sampleEvery: number;
  /**
   * count nothing for this long after every CPU is online (ms; the bench's
   * cost runs): a warm pool's thread may have run another role or fix just
   * before, and its JIT catches up meanwhile. Counts, rates and latency
   * samples are of the time after; timeMs includes it. Default 0
   */
  warmMs?: number;
  /**
   * bystander CPUs after the walkers (default 0): they never walk this mm and
   * loop over stretches of bystanderOffNs with interrupts off (unrelated
   * work) and as long with them on, taking IPIs
   */
  bystanders?: number;
  /** a bystander's IRQ-off stretch, ns (default BYSTANDER_OFF_NS) */
  bystanderOffNs?: number;
}

// The workers take these from bounds.ts: this module loads every scenario.
export { BYSTANDER_OFF_NS, startupBoundMs } from "./bounds.js";

/** Every CPU a run starts: the mutator, the walkers and the bystanders. */
export const runCpus = (c: Pick<RunConfig, "cpus" | "bystanders">): number =>
  c.cpus + (c.bystanders ?? 0);

export const LIMITS = {
  cpus: { min: 2, max: 64 },
  bystanders: { min: 0, max: 32 },
  regions: { min: 1, max: 4096 },
  ptes: { min: 1, max: 64 },
  delayNs: { max: 10_000_000 },
  stallMs: { min: 100, max: 600_000 },
  holdPins: { min: 1, max: 64 },
  timeS: { max: 7 * 24 * 3600 },
} as const;

/**
 * A config with a mutant's own stress run applied (its mode, regions, pins
 * held, and delay points added to the config's): what catches it where the
 * defaults cannot. `stress --fix ID` and `mutants` both use it.
 */
export function withMutantStress(config: RunConfig, m: MutantDecl): RunConfig {
  const s = m.stress;
  if (s === undefined) return config;
  return {
    ...config,
    mode: s.mode ?? config.mode,
    regions: s.regions ?? config.regions,
    holdPins: s.holdPins ?? config.holdPins,
    delays: [...config.delays, ...(s.delays ?? []).map((d) => ({ ...d }))],
  };
}

/** The defaults for a scenario (default gup-vs-collapse): its own delay points. */
export function defaultConfig(scenario: string = DEFAULT_SCENARIO): RunConfig {
  return {
    scenario,
    fix: "none",
    mode: "lockstep",
    cpus: Math.max(2, Math.min(LIMITS.cpus.max, availableParallelism())),
    seed: 1,
    regions: 16,
    ptes: 8,
    iterations: null,
    timeMs: null,
    untilRace: false,
    delays: scenarioByName(scenario).defaultDelays.map((d) => ({ ...d })),
    adapt: true,
    stallMs: 2000,
    holdPins: 4,
    trace: true,
    fault: null,
    sampleEvery: 0,
  };
}
