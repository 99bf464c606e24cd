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
  QuantilesRme,
  RacePowerResult,
  VariantResult,
} from "../report/results.js";
import { defaultConfig, type RunConfig } from "../run/config.js";
import { environment } from "../run/environment.js";
import { HarnessFault } from "../run/harness-fault.js";
import { cpuPool, runStress, type StressResult } from "../run/stress.js";
import { DEFAULT_SCENARIO, fixParts, scenarioByName } from "../scenarios/index.js";
import type { Scenario } from "../scenarios/scenario.js";
import {
  censoredQuantile,
  estimate,
  pairedRatio,
  poissonRme,
  quantile,
  upperBound95,
} from "../stats/stats.js";
import { measureMicro } from "./micro.js";

export interface SuitePlan {
  scenario: string;
  quick: boolean;
  rounds: number;
  runMs: number;
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

/** The full suite fits in 3 minutes on 2 cores, --quick in 30 s. */
export function plan(
  quick: boolean,
  scenario: string = DEFAULT_SCENARIO,
  bystanders = 0,
): SuitePlan {
  const cores = availableParallelism();
  // 2 up to the cores, then oversubscribed: 2x the cores, and 4x in the full run.
  const counts = new Set([2, 3, Math.max(2, cores), 2 * cores]);
  if (!quick) counts.add(4 * cores);
  const cpus = [...counts].filter((c) => c >= 2 && c <= 64).sort((a, b) => a - b);
  return quick
    ? {
        scenario,
        quick,
        rounds: 2,
        runMs: 100,
        cpus,
        bystanders: bystanders > 0 ? [0, bystanders] : [0],
        sampleEvery: 4,
        microPasses: 2,
        microTaskMs: 100,
        raceRunMs: 250,
        raceTrials: 20,
        trialLimitMs: 400,
      }
    : {
        scenario,
        quick,
        rounds: 5,
        runMs: 400,
        cpus,
        bystanders: bystanders > 0 ? [0, bystanders] : [0],
        sampleEvery: 4,
        microPasses: 5,
        microTaskMs: 250,
        raceRunMs: 2000,
        raceTrials: 20,
        trialLimitMs: 2500,
      };
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
  };
}

/** Fold the rounds of one (fix, cpus) cell, with `none`'s rounds of the same cpus for the ratios. */
export function foldVariant(
  fix: string,
  cpus: number,
  rounds: RunFigures[],
  none: RunFigures[],
  bystanders = 0,
): VariantResult {
  const col = (k: keyof RunFigures) => rounds.map((r) => r[k]);
  const e = (k: keyof RunFigures) => estimate(col(k));
  const hasIpi = rounds.some((r) => Number.isFinite(r.ipiP50Us));
  const ratio = (k: keyof RunFigures) =>
    pairedRatio(
      col(k),
      none.map((r) => r[k]),
    );
  const q = (a: keyof RunFigures, b: keyof RunFigures) => ({ p50: e(a).value, p99: e(b).value });
  const qr = (a: keyof RunFigures, b: keyof RunFigures): QuantilesRme => ({
    p50: e(a).rme,
    p99: e(b).rme,
  });
  const hasWait = rounds.some((r) => Number.isFinite(r.waitP50Us));
  return {
    fix,
    cpus,
    ...(bystanders > 0 ? { bystanders } : {}),
    ...(hasWait ? { mutatorWaitUs: q("waitP50Us", "waitP99Us") } : {}),
    rounds: rounds.length,
    gupCallsPerSec: e("gupCallsPerSec").value,
    gupLatencyNs: q("gupP50Ns", "gupP99Ns"),
    collapseLatencyUs: q("collapseP50Us", "collapseP99Us"),
    ipiWaitUs: hasIpi ? q("ipiP50Us", "ipiP99Us") : null,
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
      gupLatencyNs: qr("gupP50Ns", "gupP99Ns"),
      collapseLatencyUs: qr("collapseP50Us", "collapseP99Us"),
      ipiWaitUs: hasIpi ? qr("ipiP50Us", "ipiP99Us") : null,
      ...(hasWait ? { mutatorWaitUs: qr("waitP50Us", "waitP99Us") } : {}),
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
): RunConfig {
  return {
    ...defaultConfig(scenario),
    fix,
    cpus,
    bystanders,
    seed,
    mode: "freerun",
    timeMs: runMs,
    // Cost runs measure the kernel paths, not the race-finding aids.
    trace: false,
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
    const base = { ...defaultConfig(scenario.name), fix, cpus, mode: "lockstep" as const };
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
    for (let round = 0; round < p.rounds; round++) {
      if (signal?.aborted) throw new Error("interrupted");
      const seed = 1000 + round;
      for (const by of p.bystanders) {
        for (const cpus of p.cpus) {
          for (const fix of costFixes) {
            const r = await checked(
              costConfig(scenario.name, fix, cpus, seed, p.runMs, p.sampleEvery, by),
              pool,
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
    const defaultCpus = Math.max(2, availableParallelism());
    const variants = scaling.filter((v) => v.cpus === defaultCpus && (v.bystanders ?? 0) === 0);
    const races = await racePower(p, scenario, pool, log, signal);
    return {
      tool: "gupstress-bench",
      version: 1,
      quick: p.quick,
      environment: environment(),
      settings: {
        scenario: scenario.name,
        parts,
        rounds: p.rounds,
        runMs: p.runMs,
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
      pool: { coldStartupMs: cold.startupMs, warmStartupMs: estimate(warm).value },
      loadAvg: { before: loadBefore, after: loadavg() },
      wallMs: performance.now() - t0,
    };
  } finally {
    await pool.destroy();
  }
}
