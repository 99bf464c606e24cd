// The benchmark suite: what each fix costs, measured on the same threaded
// harness as `npm run stress`, on one warm pool. Every fix at every CPU count
// runs once per round, rounds interleaved (A B C D A B C D ...) with the same
// seed per round, so that drift on the machine hits every variant alike and
// ratios against fix none are paired within a round.

import { availableParallelism, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { Piscina } from "piscina";
import type {
  BenchResults,
  PreemptCurvePoint,
  QuantilesRme,
  RacePowerResult,
  VariantResult,
} from "../report/results.js";
import { defaultConfig, type RunConfig } from "../run/config.js";
import { environment } from "../run/environment.js";
import { HarnessFault } from "../run/harness-fault.js";
import { cpuPool, runStress, type StressResult } from "../run/stress.js";
import { DEFAULT_SCENARIO, fixParts, resolveFix, scenarioByName } from "../scenarios/index.js";
import type { Scenario } from "../scenarios/scenario.js";
import {
  censoredQuantile,
  estimate,
  type Interval,
  medianEstimate,
  pairedRatioMedian,
  poissonRme,
  pooledQuantile,
  quantile,
  upperBound95,
} from "../stats/stats.js";
import { measureMicro } from "./micro.js";

export interface SuitePlan {
  scenario: string;
  quick: boolean;
  rounds: number;
  runMs: number;
  /** each cost run's warm-up before it counts (ms), on top of runMs */
  warmMs: number;
  cpus: number[];
  /** bystander counts: every CPU count runs with each (0 alone by default) */
  bystanders: number[];
  sampleEvery: number;
  microPasses: number;
  microTaskMs: number;
  raceRunMs: number;
  raceTrials: number;
  trialLimitMs: number;
}

/** The CPU counts the cost runs visit unless --cpus says otherwise. */
export const DEFAULT_CPUS = { quick: [2, 4], full: [2, 4, 8] } as const;

/**
 * The full suite: many short interleaved rounds (20 of 100 ms), so that every
 * figure is a median over enough rounds for a distribution-free 95% interval
 * (order statistics need 6 at least; 20 gives x(6)..x(15)), within a few
 * minutes for a scenario with 9 cost fixes at 3 CPU counts and 2 bystander
 * counts. --quick: 6 rounds of 50 ms, the fewest with an interval.
 */
export function plan(
  quick: boolean,
  scenario: string = DEFAULT_SCENARIO,
  bystanders = 0,
  cpuCounts?: readonly number[],
): SuitePlan {
  const cpus = [...new Set(cpuCounts ?? (quick ? DEFAULT_CPUS.quick : DEFAULT_CPUS.full))]
    .filter((c) => c >= 2 && c <= 64)
    .sort((a, b) => a - b);
  return quick
    ? {
        scenario,
        quick,
        rounds: 6,
        runMs: 50,
        warmMs: 10,
        cpus,
        bystanders: bystanders > 0 ? [0, bystanders] : [0],
        sampleEvery: 4,
        microPasses: 6,
        microTaskMs: 40,
        raceRunMs: 250,
        raceTrials: 20,
        trialLimitMs: 400,
      }
    : {
        scenario,
        quick,
        rounds: 20,
        runMs: 100,
        warmMs: 25,
        cpus,
        bystanders: bystanders > 0 ? [0, bystanders] : [0],
        sampleEvery: 4,
        microPasses: 10,
        microTaskMs: 120,
        raceRunMs: 2000,
        raceTrials: 20,
        trialLimitMs: 2500,
      };
}

/** The CPU count of the headline table: the largest one that is not oversubscribed (at least the smallest). */
export function headlineCpus(cpus: readonly number[], cores: number): number {
  const fit = cpus.filter((c) => c <= Math.max(2, cores));
  return fit.length > 0 ? Math.max(...fit) : Math.min(...cpus);
}

/** What one freerun run measured. */
interface RunFigures {
  gupCallsPerSec: number;
  gupP50Ns: number;
  gupP99Ns: number;
  collapseP50Us: number;
  collapseP99Us: number;
  ipiP50Us: number;
  ipiP99Us: number;
  waitP50Us: number;
  waitP99Us: number;
  backoffRate: number;
  fallbackRate: number;
  collapsesPerSec: number;
  ipiHandlerEntriesPerSec: number;
  /**
   * The run's per-operation samples (microseconds; at most RAW_KEEP each,
   * evenly thinned), pooled over rounds for the operations' quantiles.
   */
  raw?: { opUs: number[]; ipiUs: number[]; waitUs: number[] };
}

type Scalar = Exclude<keyof RunFigures, "raw">;

/** Per run and kind of operation sample, kept for pooling (a 100 ms run has a few thousand). */
const RAW_KEEP = 1000;

/** Every k-th value (k chosen so that at most `keep` remain), in microseconds. */
function thinned(ns: readonly number[], keep = RAW_KEEP): number[] {
  const k = Math.max(1, Math.ceil(ns.length / keep));
  const out: number[] = [];
  for (let i = 0; i < ns.length; i += k) out.push(ns[i] / 1000);
  return out;
}

export function figuresOf(r: StressResult): RunFigures {
  const gupCpus = Math.max(1, r.cpus - 1);
  const sec = r.durationMs / 1000;
  const s = r.samples ?? { gupNs: [], collapseNs: [], ipiWaitNs: [], opWaitNs: [] };
  const calls = Math.max(1, r.gupCalls);
  return {
    gupCallsPerSec: sec > 0 ? r.gupCalls / sec / gupCpus : Number.NaN,
    gupP50Ns: quantile(s.gupNs, 0.5),
    gupP99Ns: quantile(s.gupNs, 0.99),
    collapseP50Us: quantile(s.collapseNs, 0.5) / 1000,
    collapseP99Us: quantile(s.collapseNs, 0.99) / 1000,
    ipiP50Us: quantile(s.ipiWaitNs, 0.5) / 1000,
    ipiP99Us: quantile(s.ipiWaitNs, 0.99) / 1000,
    waitP50Us: quantile(s.opWaitNs ?? [], 0.5) / 1000,
    waitP99Us: quantile(s.opWaitNs ?? [], 0.99) / 1000,
    backoffRate: r.backoffs / calls,
    fallbackRate: r.fallbacks / calls,
    collapsesPerSec: sec > 0 ? (r.mutatorOps.total - r.mutatorOps.followUps) / sec : Number.NaN,
    ipiHandlerEntriesPerSec: sec > 0 ? r.ipi.handlerEntries / sec / gupCpus : Number.NaN,
    raw: {
      opUs: thinned(s.collapseNs),
      ipiUs: thinned(s.ipiWaitNs),
      waitUs: thinned(s.opWaitNs ?? []),
    },
  };
}

/**
 * Fold the rounds of one (fix, cpus) cell, with `none`'s rounds of the same
 * cpus for the ratios. Per-round figures (rates, the GUP call's quantiles,
 * ratios paired with the baseline in the same round): the median over rounds
 * with its order-statistic 95% interval. The mutator's operations (one
 * collapse or free, its IPI wait, its blocked time), which are few per run:
 * the quantile of every round's samples pooled, with a cluster-bootstrap
 * interval that resamples whole rounds.
 */
export function foldVariant(
  fix: string,
  cpus: number,
  rounds: RunFigures[],
  none: RunFigures[],
  bystanders = 0,
): VariantResult {
  const col = (k: Scalar) => rounds.map((r) => r[k]);
  const e = (k: Scalar) => medianEstimate(col(k));
  const hasIpi = rounds.some((r) => Number.isFinite(r.ipiP50Us));
  const ratio = (k: Scalar) =>
    pairedRatioMedian(
      col(k),
      none.map((r) => r[k]),
    );
  const pooled = rounds.every((r) => r.raw !== undefined);
  const op = (kind: "opUs" | "ipiUs" | "waitUs", a: Scalar, b: Scalar) => {
    if (!pooled) return { p50: e(a), p99: e(b) };
    const groups = rounds.map((r) => r.raw?.[kind] ?? []);
    return { p50: pooledQuantile(groups, 0.5), p99: pooledQuantile(groups, 0.99) };
  };
  const val = (x: { p50: Interval; p99: Interval }) => ({ p50: x.p50.value, p99: x.p99.value });
  const rme = (x: { p50: Interval; p99: Interval }): QuantilesRme => ({
    p50: x.p50.rme,
    p99: x.p99.rme,
  });
  const hasWait = rounds.some((r) => Number.isFinite(r.waitP50Us));
  const gup = { p50: e("gupP50Ns"), p99: e("gupP99Ns") };
  const collapse = op("opUs", "collapseP50Us", "collapseP99Us");
  const ipi = hasIpi ? op("ipiUs", "ipiP50Us", "ipiP99Us") : null;
  const wait = hasWait ? op("waitUs", "waitP50Us", "waitP99Us") : null;
  return {
    fix,
    cpus,
    ...(bystanders > 0 ? { bystanders } : {}),
    ...(wait ? { mutatorWaitUs: val(wait) } : {}),
    rounds: rounds.length,
    gupCallsPerSec: e("gupCallsPerSec").value,
    gupLatencyNs: val(gup),
    collapseLatencyUs: val(collapse),
    ipiWaitUs: ipi ? val(ipi) : null,
    backoffRate: e("backoffRate").value,
    fallbackRate: e("fallbackRate").value,
    collapsesPerSec: e("collapsesPerSec").value,
    ipiHandlerEntriesPerSec: e("ipiHandlerEntriesPerSec").value,
    vsNone: {
      gupCallsPerSec: ratio("gupCallsPerSec").value,
      gupLatencyP50: ratio("gupP50Ns").value,
      collapseLatencyP50: ratio("collapseP50Us").value,
    },
    rme: {
      gupCallsPerSec: e("gupCallsPerSec").rme,
      gupLatencyNs: rme(gup),
      collapseLatencyUs: rme(collapse),
      ipiWaitUs: ipi ? rme(ipi) : null,
      ...(wait ? { mutatorWaitUs: rme(wait) } : {}),
      backoffRate: e("backoffRate").rme,
      fallbackRate: e("fallbackRate").rme,
      collapsesPerSec: e("collapsesPerSec").rme,
      ipiHandlerEntriesPerSec: e("ipiHandlerEntriesPerSec").rme,
      vsNone: {
        gupCallsPerSec: ratio("gupCallsPerSec").rme,
        gupLatencyP50: ratio("gupP50Ns").rme,
        collapseLatencyP50: ratio("collapseP50Us").rme,
      },
    },
  };
}

function costConfig(
  scenario: string,
  fix: string,
  cpus: number,
  seed: number,
  runMs: number,
  every: number,
  bystanders = 0,
  warmMs = 0,
): RunConfig {
  return {
    ...defaultConfig(scenario),
    fix,
    cpus,
    bystanders,
    seed,
    mode: "freerun",
    // The warm-up is not counted (RunConfig.warmMs): runMs is measured after it.
    timeMs: runMs + warmMs,
    warmMs,
    // Cost runs measure the kernel paths, not the race-finding aids.
    trace: false,
    // V8's own tier-up: the rounds measure compiled code (src/run/jit.ts).
    eagerJit: true,
    delays: [],
    sampleEvery: every,
  };
}

async function checked(
  config: RunConfig,
  pool: Piscina,
  signal?: AbortSignal,
): Promise<StressResult> {
  const r = await runStress(config, { pool, signal });
  if (r.aborted !== null) {
    throw new HarnessFault(`${config.fix} on ${config.cpus} CPUs: ${r.aborted}`);
  }
  if (r.interrupted !== null) throw new Error(`interrupted (${r.interrupted})`);
  return r;
}

/** How often a cost run that stalled is run again before the suite gives up. */
const STALL_RETRIES = 2;

/**
 * A cost run, run again (same config, same seed) when a CPU stalled: with
 * more CPU threads than cores a thread can be descheduled past the stall
 * bound, which says nothing about the fix. Each retry is reported (`again`)
 * and kept in the results; a stall that repeats is a fault.
 */
async function retried(
  config: RunConfig,
  pool: Piscina,
  again: (why: string) => void,
  signal?: AbortSignal,
): Promise<StressResult> {
  for (let k = 0; ; k++) {
    try {
      return await checked(config, pool, signal);
    } catch (e) {
      const stall = e instanceof HarnessFault && /stall/.test(e.message);
      if (!stall || k >= STALL_RETRIES || signal?.aborted) throw e;
      again(e.message.split("\n")[0]);
    }
  }
}

/** Races per million and time to first race (lockstep, default delays, tracing on as in stress). */
async function racePower(
  p: SuitePlan,
  scenario: Scenario,
  pool: Piscina,
  log: (s: string) => void,
  signal?: AbortSignal,
): Promise<RacePowerResult[]> {
  const out: RacePowerResult[] = [];
  for (const decl of scenario.fixes) {
    const fix = decl.name;
    const cpus = Math.max(2, decl.minCpus);
    // eagerJit: on a warm pool, as the cost runs (V8's flags are the process's).
    const base = {
      ...defaultConfig(scenario.name),
      fix,
      cpus,
      mode: "lockstep" as const,
      eagerJit: true,
    };
    const rate = await checked({ ...base, seed: 1, timeMs: p.raceRunMs }, pool, signal);
    const racy = decl.expect === "race";
    // A rate only means something once the run reached the race window.
    const sampleTooSmall = rate.races === 0 && rate.windowHits < 10;
    const times: (number | null)[] = [];
    if (racy) {
      for (let t = 0; t < p.raceTrials; t++) {
        const r = await checked(
          { ...base, seed: 101 + t, untilRace: true, timeMs: p.trialLimitMs },
          pool,
          signal,
        );
        times.push(r.firstRaceMs);
      }
    }
    const median = censoredQuantile(times, 0.5);
    const p90 = censoredQuantile(times, 0.9);
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    out.push({
      fix,
      cpus,
      mode: "lockstep",
      iterations: rate.iterations,
      races: rate.races,
      racesPerMillion: rate.iterations > 0 ? (rate.races / rate.iterations) * 1e6 : 0,
      racesPerMillionRme: poissonRme(rate.races),
      sampleTooSmall,
      upperBound: rate.races === 0 && !sampleTooSmall ? upperBound95(rate.iterations) : null,
      firstRaceMs: racy ? { median: fin(median.value), p90: fin(p90.value) } : null,
      firstRaceMsRme: racy ? { median: median.rme, p90: p90.rme } : null,
      trials: times.length,
      censored: racy ? median.censored : 0,
      trialLimitMs: p.trialLimitMs,
      trialTimesMs: times,
    });
    log(
      `  race power ${fix.padEnd(9)} ${rate.races} races in ${rate.iterations} iterations${sampleTooSmall ? ` (sample too small: the window was reached ${rate.windowHits} times)` : ""}` +
        (racy ? `, first race median ${fmt(median.value)} ms over ${times.length} trials` : ""),
    );
  }
  return out;
}

/** The scales of the default preemption probability the curve visits: 0 to the default. */
export const PREEMPT_SCALES = [0, 0.25, 0.5, 1] as const;

/**
 * kvm-pv-flush's race rate against the host-preemption probability: each fix
 * that reads the preempted word (knob ipiPvFlush) runs lockstep (as race
 * power does: the trials line the walker up with the mutator) with the
 * scenario's default delays, its default preemption points' probabilities
 * scaled from 0 (no preemption: the flush reaches every walker) to 1 (the
 * default). Same seed and length at every point.
 */
export async function preemptCurve(
  runMs: number,
  scenario: Scenario,
  pool: Piscina | undefined,
  log: (s: string) => void,
  signal?: AbortSignal,
): Promise<PreemptCurvePoint[]> {
  const out: PreemptCurvePoint[] = [];
  const fixes = scenario.fixes.filter((d) => resolveFix(scenario, d.name).ipiPvFlush);
  if (!scenario.defaultDelays.some((d) => d.preempt === true)) return out;
  for (const decl of fixes) {
    const base = defaultConfig(scenario.name);
    for (const scale of PREEMPT_SCALES) {
      const delays = base.delays.flatMap((d) =>
        d.preempt !== true ? [d] : scale === 0 ? [] : [{ ...d, prob: d.prob * scale }],
      );
      const prob = (scenario.defaultDelays.find((d) => d.preempt === true)?.prob ?? 0) * scale;
      const config = {
        ...base,
        fix: decl.name,
        cpus: 2,
        mode: "lockstep" as const,
        seed: 1,
        eagerJit: true,
      };
      const r =
        pool === undefined
          ? await runStress({ ...config, delays, timeMs: runMs }, { signal })
          : await checked({ ...config, delays, timeMs: runMs }, pool, signal);
      out.push({
        fix: decl.name,
        scale,
        prob,
        iterations: r.iterations,
        races: r.races,
        racesPerMillion: r.iterations > 0 ? (r.races / r.iterations) * 1e6 : 0,
        racesPerMillionRme: poissonRme(r.races),
      });
      log(
        `  preemption curve ${decl.name} p=${prob.toFixed(3)}: ${r.races} races in ${r.iterations} iterations (${fmt(r.iterations > 0 ? (r.races / r.iterations) * 1e6 : 0)} per million)`,
      );
    }
  }
  return out;
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : "n/a");

export async function runSuite(
  p: SuitePlan,
  log: (s: string) => void,
  signal?: AbortSignal,
): Promise<BenchResults> {
  const t0 = performance.now();
  const loadBefore = loadavg();
  const scenario = scenarioByName(p.scenario);
  const parts = fixParts(scenario);
  // The cost of each protection against the unprotected baseline: the baseline and the clean fixes.
  const costFixes = [
    parts.baseline,
    ...scenario.fixes.filter((d) => d.expect === "clean").map((d) => d.name),
  ];
  log(`micro: floor vs harness walk, ${p.microPasses} passes (single thread, tinybench)`);
  const micro = await measureMicro(p.microPasses, p.microTaskMs, scenario, parts, signal);
  log(
    `  floor ${fmt(micro.floorNsPerCall.value)} ns/call, harness ${fmt(micro.harnessNsPerCall.value)} ns/call: ${fmt(micro.harnessOverhead.value)}x`,
  );

  // Cold start once, for the record: what a pool per run would cost.
  const cold = await runStress(costConfig(scenario.name, parts.baseline, 2, 1, 20, 0), { signal });
  if (signal?.aborted) throw new Error("interrupted");
  const pool = cpuPool(Math.max(...p.cpus) + Math.max(...p.bystanders));
  try {
    // Warm-up round (discarded): every worker JIT-compiles the paths it will run.
    for (const cpus of p.cpus)
      for (const fix of costFixes)
        await checked(costConfig(scenario.name, fix, cpus, 1, 40, p.sampleEvery), pool, signal);
    const cells = new Map<string, RunFigures[]>();
    const warm: number[] = [];
    const retries: string[] = [];
    for (let round = 0; round < p.rounds; round++) {
      if (signal?.aborted) throw new Error("interrupted");
      const seed = 1000 + round;
      for (const by of p.bystanders) {
        for (const cpus of p.cpus) {
          for (const fix of costFixes) {
            const r = await retried(
              costConfig(scenario.name, fix, cpus, seed, p.runMs, p.sampleEvery, by, p.warmMs),
              pool,
              (why) => {
                const note = `round ${round + 1}, ${fix} on ${cpus} CPUs + ${by} bystanders: ${why}`;
                retries.push(note);
                log(`  ran again (${note})`);
              },
              signal,
            );
            warm.push(r.startupMs);
            const key = `${fix}@${cpus}+${by}`;
            cells.set(key, [...(cells.get(key) ?? []), figuresOf(r)]);
          }
        }
      }
      log(
        `freerun round ${round + 1}/${p.rounds} done (${p.bystanders.length * p.cpus.length * costFixes.length} runs)`,
      );
    }
    const scaling: VariantResult[] = [];
    for (const by of p.bystanders) {
      for (const cpus of p.cpus) {
        const none = cells.get(`${parts.baseline}@${cpus}+${by}`) ?? [];
        for (const fix of costFixes)
          scaling.push(foldVariant(fix, cpus, cells.get(`${fix}@${cpus}+${by}`) ?? [], none, by));
      }
    }
    const defaultCpus = headlineCpus(p.cpus, availableParallelism());
    const variants = scaling.filter((v) => v.cpus === defaultCpus && (v.bystanders ?? 0) === 0);
    const races = await racePower(p, scenario, pool, log, signal);
    const curve = await preemptCurve(p.raceRunMs, scenario, pool, log, signal);
    return {
      tool: "gupstress-bench",
      version: 1,
      quick: p.quick,
      environment: environment(),
      settings: {
        scenario: scenario.name,
        parts,
        mutator: scenario.roles.mutator,
        ...(parts.recheck !== null
          ? { recheckKind: resolveFix(scenario, parts.recheck).recheckHead ? "head" : "pmd" }
          : {}),
        margins: "median-os",
        rounds: p.rounds,
        runMs: p.runMs,
        warmMs: p.warmMs,
        cpus: p.cpus,
        ...(p.bystanders.length > 1 ? { bystanders: p.bystanders } : {}),
        fixes: costFixes,
        sampleEvery: p.sampleEvery,
        trace: false,
        delays: "none",
        raceRunMs: p.raceRunMs,
        raceTrials: p.raceTrials,
      },
      variants,
      scaling,
      floorNsPerCall: micro.floorNsPerCall.value,
      floorNsPerCallRme: micro.floorNsPerCall.rme,
      harnessOverhead: micro.harnessOverhead.value,
      harnessOverheadRme: micro.harnessOverhead.rme,
      micro,
      racePower: races,
      preemptCurve: curve,
      ...(retries.length > 0 ? { retries } : {}),
      pool: { coldStartupMs: cold.startupMs, warmStartupMs: estimate(warm).value },
      loadAvg: { before: loadBefore, after: loadavg() },
      wallMs: performance.now() - t0,
    };
  } finally {
    await pool.destroy();
  }
}
