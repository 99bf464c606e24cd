// What one stress run is asked to do. Plain data: it crosses into the workers.

import { availableParallelism } from "node:os";

export type Mode = "lockstep" | "freerun";

/** A seeded random spin after a step: fires with probability `prob`, lasts uniform [0, maxNs]. */
export interface DelaySpec {
  /** a step name (G1, K8, ...) or "start" (the per-trial start offset) */
  point: string;
  maxNs: number;
  prob: number;
  /**
   * Forced instead of random: spin exactly maxNs after the nth time (1-based,
   * counted from the trial's start) this CPU runs `point`, every trial. The
   * explorer sets these to replay a counterexample on real threads.
   */
  nth?: number;
}

export interface RunConfig {
  scenario: string;
  fix: string;
  mode: Mode;
  /** CPU 0 is collapse, the rest are GUP-fast */
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
  delays: DelaySpec[];
  /** a CPU that does not answer within this long is reported as stuck */
  stallMs: number;
  /** freerun: walks whose pins a GUP CPU holds before releasing the oldest */
  holdPins: number;
  /** record every step with a global clock stamp (needed to draw the first race) */
  trace: boolean;
  /** test-only fault injection, see src/run/faults.ts */
  fault: string | null;
  /** lockstep: start every trial behind a barrier (default: only when CPUs outnumber cores); forced-delay replays need it */
  trialBarrier?: boolean;
  /** time every Nth GUP-fast call and collapse for latency percentiles (0: none; the benchmarks set it) */
  sampleEvery: number;
}

/**
 * Tuned so that --fix none races within milliseconds: a walker's G1 must come
 * before K4 but its pin after K6. The rare long G1 delay outlasts an IPI wait
 * (tens of microseconds), which is what it takes to race past ipi-skip.
 */
export const DEFAULT_DELAYS: DelaySpec[] = [
  { point: "start", maxNs: 1500, prob: 1 },
  { point: "G1", maxNs: 1500, prob: 0.5 },
  { point: "G1", maxNs: 60_000, prob: 0.02 },
  { point: "K8", maxNs: 300, prob: 0.5 },
];

export const LIMITS = {
  cpus: { min: 2, max: 64 },
  regions: { min: 1, max: 4096 },
  ptes: { min: 1, max: 64 },
  delayNs: { max: 10_000_000 },
  stallMs: { min: 100, max: 600_000 },
  holdPins: { min: 1, max: 64 },
  timeS: { max: 7 * 24 * 3600 },
} as const;

export function defaultConfig(): RunConfig {
  return {
    scenario: "gup-vs-collapse",
    fix: "none",
    mode: "lockstep",
    cpus: Math.max(2, Math.min(LIMITS.cpus.max, availableParallelism())),
    seed: 1,
    regions: 16,
    ptes: 8,
    iterations: null,
    timeMs: null,
    untilRace: false,
    delays: DEFAULT_DELAYS.map((d) => ({ ...d })),
    stallMs: 2000,
    holdPins: 4,
    trace: true,
    fault: null,
    sampleEvery: 0,
  };
}
