// The shape of a benchmark result file (results/latest.json): what
// `npm run bench -- --json` prints and what the report reads. Every `rme` is a
// relative 95% margin of error in percent (null: not computable, e.g. one round).

import type { Environment } from "../run/environment.js";

export type Rme = number | null;

export interface Quantiles {
  p50: number;
  p99: number;
}

export interface QuantilesRme {
  p50: Rme;
  p99: Rme;
}

/** One fix at one CPU count, freerun, averaged over interleaved rounds. */
export interface VariantResult {
  fix: string;
  /** CPU 0 collapse + cpus - 1 GUP-fast CPUs */
  cpus: number;
  rounds: number;
  /** GUP-fast calls per second per GUP CPU */
  gupCallsPerSec: number;
  /** one GUP-fast call, performance.now() around it (sampled) */
  gupLatencyNs: Quantiles;
  /** one collapse attempt, K0..K11 */
  collapseLatencyUs: Quantiles;
  /** K5 send to K5W all acks in; null for fixes without an IPI */
  ipiWaitUs: Quantiles | null;
  /** back-offs at G6 or G7 per GUP-fast call */
  backoffRate: number;
  /** slow-path fallbacks (G1, G3, G5) per GUP-fast call */
  fallbackRate: number;
  collapsesPerSec: number;
  /** IPI handler entries per second per GUP CPU */
  ipiHandlerEntriesPerSec: number;
  /** bystander CPUs beside them (absent: 0) */
  bystanders?: number;
  /**
   * the mutator's time blocked per trial operation (one table free, or one
   * collapse): IPI acks or a grace period, 0 when it never waits
   */
  mutatorWaitUs?: Quantiles;
  /** paired ratios against fix none at the same CPU count, same rounds */
  vsNone: {
    gupCallsPerSec: number;
    gupLatencyP50: number;
    collapseLatencyP50: number;
  };
  rme: {
    gupCallsPerSec: Rme;
    gupLatencyNs: QuantilesRme;
    collapseLatencyUs: QuantilesRme;
    ipiWaitUs: QuantilesRme | null;
    mutatorWaitUs?: QuantilesRme;
    backoffRate: Rme;
    fallbackRate: Rme;
    collapsesPerSec: Rme;
    ipiHandlerEntriesPerSec: Rme;
    vsNone: { gupCallsPerSec: Rme; gupLatencyP50: Rme; collapseLatencyP50: Rme };
  };
}

/** A figure with its margin of error. */
export interface Figure {
  value: number;
  rme: Rme;
}

/** Single-threaded, side by side under tinybench: one walk of `ptes` pages, pin and unpin. */
export interface MicroResult {
  ptesPerWalk: number;
  passes: number;
  /** the hand-written Atomics-only walk */
  floorNsPerCall: Figure;
  /** the floor plus G6: one more pmd load per page */
  floorRecheckNsPerCall: Figure;
  /** gupFastStep loop as the driver runs it, fix none, tracing off, no delays */
  harnessNsPerCall: Figure;
  /** the same, fix recheck (G6 added) */
  recheckNsPerCall: Figure;
  /** the same, fix none, tracing on (a global clock Atomics.add per step) */
  tracedNsPerCall: Figure;
  /** harness / floor, paired per pass */
  harnessOverhead: Figure;
  /** recheck / none, paired per pass */
  recheckOverhead: Figure;
  /** floor with G6 / floor, paired per pass: the re-check's cost without the harness */
  floorRecheckOverhead: Figure;
  /** traced / untraced, paired per pass */
  traceOverhead: Figure;
}

export interface PreemptCurvePoint {
  fix: string;
  /** the default preemption points' probabilities scaled by this (0 .. 1) */
  scale: number;
  /** the probability the first default preemption point ran with */
  prob: number;
  iterations: number;
  races: number;
  racesPerMillion: number;
  racesPerMillionRme: Rme;
}

export interface RacePowerResult {
  fix: string;
  cpus: number;
  mode: "lockstep";
  /** the fixed-time run that gives the rate (and the bound when clean) */
  iterations: number;
  races: number;
  racesPerMillion: number;
  racesPerMillionRme: Rme;
  /**
   * The run did not reach the race window often enough to say anything (a
   * racy fix with no race, or a clean one with few window hits): the rate is
   * not 0, it is unknown. Absent in results written before it existed.
   */
  sampleTooSmall?: boolean;
  /** 95% upper bound on the race probability per iteration from zero hits (3/N); null when races were seen */
  upperBound: number | null;
  /** time to the first race over `trials` untilRace trials; null for clean fixes (no trials) */
  firstRaceMs: { median: number | null; p90: number | null } | null;
  firstRaceMsRme: { median: Rme; p90: Rme } | null;
  trials: number;
  /** trials that hit the time limit without a race */
  censored: number;
  trialLimitMs: number;
  /** per trial, null when censored */
  trialTimesMs: (number | null)[];
}

/** Which fix is the baseline, the re-check and the IPI (results written before scenarios: by their names then). */
export function partsOf(res: Pick<BenchResults, "settings">): {
  baseline: string;
  recheck: string | null;
  ipi: string | null;
} {
  return res.settings.parts ?? { baseline: "none", recheck: "recheck", ipi: "ipi" };
}

export interface BenchResults {
  tool: "gupstress-bench";
  version: 1;
  quick: boolean;
  environment: Environment;
  settings: {
    /** the scenario measured (absent in results written before scenarios: gup-vs-collapse) */
    scenario?: string;
    /**
     * Which fix plays which part in the summaries, from the fixes' knobs:
     * the unprotected baseline, the re-check-only fix and the IPI-only fix.
     */
    parts?: { baseline: string; recheck: string | null; ipi: string | null };
    /** the scenario's mutator, for the tables' words (absent: "collapse") */
    mutator?: string;
    /** what the re-check fix re-reads: the pmd (G6) or the compound head (GR, c24d37322548) */
    recheckKind?: "pmd" | "head";
    rounds: number;
    runMs: number;
    /** each cost run's warm-up before it counted (ms; absent in older files: none) */
    warmMs?: number;
    cpus: number[];
    /**
     * how the margins were computed: "median-os" (medians of rounds with
     * order-statistic intervals, operations pooled with a round bootstrap);
     * absent: the mean over rounds with a Student t margin
     */
    margins?: "median-os";
    /** bystander counts each CPU count ran with (absent: 0 only) */
    bystanders?: number[];
    fixes: string[];
    sampleEvery: number;
    /** cost runs: global-clock tracing off, delay points off */
    trace: boolean;
    delays: "none";
    raceRunMs: number;
    raceTrials: number;
  };
  /** the fixes at the default CPU count (os.availableParallelism(), at least 2) */
  variants: VariantResult[];
  /** every fix at every CPU count */
  scaling: VariantResult[];
  floorNsPerCall: number;
  floorNsPerCallRme: Rme;
  /** harness cost per call / floor cost per call */
  harnessOverhead: number;
  harnessOverheadRme: Rme;
  micro: MicroResult;
  racePower: RacePowerResult[];
  /**
   * Race rate of each fix that reads the host's preempted word (kvm-pv-flush)
   * against the probability of the scenario's default host-preemption
   * points, from 0 to the default (lockstep, default delays otherwise).
   * Absent in results written before host preemption, or with no such fix.
   */
  preemptCurve?: PreemptCurvePoint[];
  /** cost runs run again after a CPU stalled (oversubscribed machines), one line each; absent: none */
  retries?: string[];
  pool: { coldStartupMs: number; warmStartupMs: number };
  /** os.loadavg() (1, 5, 15 min) before and after: other work on the machine shows here */
  loadAvg?: { before: number[]; after: number[] };
  wallMs: number;
}
