// Stress and explorer agree: a counterexample, replayed on real threads with
// delays forced where the trace switches CPUs, gives the same outcome.
//
// For every step a CPU runs, the steps the other CPUs run before its next
// one become a forced spin after it (that many units). A CPU that starts
// late in the trace waits after its own first step instead: the drivers start
// a trial together, and a delay point exists only after a step (K0 and
// G0..G3 only read, so moving that wait one step later changes nothing).

import type { DelaySpec } from "../run/config.js";
import { defaultConfig, type RunConfig } from "../run/config.js";
import { runStress, type StressResult, type TraceStep } from "../run/stress.js";
import { scenarioByName } from "../scenarios/index.js";
import { parseReplay, replayTrace } from "./explore.js";

/** Forced delays that steer the threads through `trace` (2 CPUs: step names tell the roles apart). */
export function forcedDelays(trace: readonly TraceStep[], unitNs: number): DelaySpec[] {
  // A host preemption (HP .. HR) is no step of the walk: the gap it sits in
  // becomes a forced host preemption instead of a spin.
  const steps = trace.filter((s) => s.step !== "IPI" && s.step !== "HP" && s.step !== "HR");
  const preemptedAt = new Set(
    trace.flatMap((s, i) =>
      s.step === "HP"
        ? [
            trace
              .slice(0, i)
              .filter((x) => x.cpu === s.cpu && steps.includes(x))
              .pop(),
          ]
        : [],
    ),
  );
  const cpus = [...new Set(steps.map((s) => s.cpu))];
  const out: DelaySpec[] = [];
  for (const cpu of cpus) {
    const nth = new Map<string, number>();
    const mine = steps.flatMap((s, pos) => (s.cpu === cpu ? [{ s, pos }] : []));
    const lead = mine.length > 0 ? mine[0].pos : 0;
    for (let k = 0; k < mine.length; k++) {
      const { s, pos } = mine[k];
      const n = (nth.get(s.step) ?? 0) + 1;
      nth.set(s.step, n);
      const next = k + 1 < mine.length ? mine[k + 1].pos : pos + 1;
      const gap = next - pos - 1 + (k === 0 ? lead : 0);
      if (gap > 0) {
        const d: DelaySpec = { point: s.step, maxNs: gap * unitNs, prob: 1, nth: n };
        out.push(preemptedAt.has(s) ? { ...d, preempt: true } : d);
      }
    }
  }
  return out;
}

export interface Agreement {
  replay: string;
  /** the outcome the explorer's counterexample ends in */
  explorerOutcome: string[];
  delays: DelaySpec[];
  unitNs: number;
  stress: StressResult;
  /** share of the threaded trials that ended in the counterexample's forbidden outcome */
  hitRate: number;
  /** the same run without any delay, for contrast */
  baselineHitRate: number;
  /** the threads reproduced the counterexample's forbidden outcome */
  reproduced: boolean;
  /** every outcome stress saw is one the explorer reached in the same configuration */
  labelsAgree: boolean;
}

export interface AgreeOptions {
  unitNs?: number;
  iterations?: number;
  /** regions per round (trials between two resets; default 4) */
  regions?: number;
  seed?: number;
  /** outcome labels the explorer reached in the whole space (for labelsAgree) */
  explorerLabels?: readonly string[];
}

export async function agree(replay: string, opt: AgreeOptions = {}): Promise<Agreement> {
  const p = parseReplay(replay);
  if (p.cpus !== 2)
    throw new Error("forced delays name steps, not CPUs: replay on threads needs 2 CPUs");
  const cex = replayTrace(replay);
  const unitNs = opt.unitNs ?? 3000;
  const delays = forcedDelays(cex.trace, unitNs);
  const scenario = scenarioByName(p.scenario);
  const config: RunConfig = {
    ...defaultConfig(),
    scenario: p.scenario,
    fix: p.fix,
    range: p.ranges[0],
    cpus: p.cpus,
    ptes: p.ptes,
    regions: opt.regions ?? 4,
    seed: opt.seed ?? 1,
    iterations: opt.iterations ?? 2000,
    timeMs: null,
    delays,
    // Both CPUs start each trial together, loaded machine or not: the forced
    // delays count from there.
    trialBarrier: true,
  };
  const stress = await runStress(config);
  const baseline = await runStress({ ...config, delays: [] });
  const forbidden = cex.outcome.filter(
    (k) => scenario.outcomes.find((o) => o.key === k)?.grade === "FORBIDDEN",
  );
  const hitsOf = (r: StressResult) =>
    forbidden.reduce((n, k) => n + (r.outcomes[k]?.count ?? 0), 0);
  const hits = hitsOf(stress);
  const seen = scenario.outcomes
    .map((o) => o.key)
    .filter((k) => (stress.outcomes[k]?.count ?? 0) > 0);
  return {
    replay,
    explorerOutcome: cex.outcome,
    delays,
    unitNs,
    stress,
    hitRate: stress.iterations > 0 ? hits / stress.iterations : 0,
    baselineHitRate: baseline.iterations > 0 ? hitsOf(baseline) / baseline.iterations : 0,
    reproduced: hits > 0,
    labelsAgree:
      opt.explorerLabels === undefined ? true : seen.every((k) => opt.explorerLabels?.includes(k)),
  };
}
