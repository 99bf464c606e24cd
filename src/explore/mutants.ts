// Weakened fixes: each is a real fix with one knob turned (a fix is data, so
// a mutant is a name, "base~knob=value", that every thread resolves itself).
// A harness that cannot tell them from the real fixes proves nothing. Each
// scenario declares its mutants; each runs through the explorer (exhaustive)
// and a short stress run.

import { performance } from "node:perf_hooks";
import { defaultConfig, withMutantStress } from "../run/config.js";
import { HarnessFault } from "../run/harness-fault.js";
import { runStress } from "../run/stress.js";
import { SCENARIOS } from "../scenarios/index.js";
import type { MutantDecl, Scenario } from "../scenarios/scenario.js";
import { DEFAULT_EXPLORE, exploreAsync } from "./explore.js";

/** Every scenario's mutants, with the scenario that declares them. */
export function allMutants(): { scenario: Scenario; mutant: MutantDecl }[] {
  return SCENARIOS.flatMap((scenario) => scenario.mutants.map((mutant) => ({ scenario, mutant })));
}

export function findMutant(id: string): { scenario: Scenario; mutant: MutantDecl } | undefined {
  return allMutants().find((m) => m.mutant.id === id);
}

export interface MutantRow {
  /** the scenario that declares it (and catches it, when killable) */
  scenario: string;
  id: string;
  fix: string;
  text: string;
  cpus: number;
  /** "caught" when the race must be found, "equivalent" when it must not */
  expected: "caught" | "equivalent";
  explorer: {
    caught: boolean;
    explored: number;
    violations: number;
    complete: boolean;
    ms: number;
    replay: string | null;
  };
  /** null when stress was not run (--no-stress) */
  stress: {
    mode: "lockstep" | "freerun";
    caught: boolean;
    iterations: number;
    races: number;
    /** milliseconds to the first race, or the whole run when none */
    ms: number;
    firstRaceMs: number | null;
  } | null;
  /** the explorer's verdict matches the expectation */
  ok: boolean;
}

export interface MutantOptions {
  /** only this scenario's mutants (default: every scenario's) */
  scenario?: string;
  ptes: number;
  /** seconds of stress per mutant; 0: no stress */
  stressSeconds: number;
  seed: number;
  /** only these mutant ids (default: all) */
  only?: readonly string[];
  onRow?: (row: MutantRow) => void;
  /** Ctrl-C: stop after the mutant in hand */
  signal?: AbortSignal;
}

export async function runMutants(opt: MutantOptions): Promise<MutantRow[]> {
  const rows: MutantRow[] = [];
  for (const { scenario, mutant: m } of allMutants()) {
    // A turn of the event loop: the explorer is synchronous, and Ctrl-C is
    // only heard between two mutants.
    if (opt.signal !== undefined) await new Promise<void>((r) => setImmediate(r));
    if (opt.signal?.aborted) break;
    if (opt.scenario !== undefined && scenario.name !== opt.scenario) continue;
    if (opt.only !== undefined && !opt.only.includes(m.id)) continue;
    const cpus = m.cpus ?? 2;
    const t0 = performance.now();
    const r = await exploreAsync(
      { ...DEFAULT_EXPLORE, scenario: scenario.name, fix: m.fix, cpus, ptes: opt.ptes },
      opt.signal,
    );
    if (r === null) break;
    const exploreMs = performance.now() - t0;
    let stress: MutantRow["stress"] = null;
    if (opt.stressSeconds > 0) {
      const config = {
        ...withMutantStress(defaultConfig(scenario.name), m),
        fix: m.fix,
        cpus,
        seed: opt.seed,
        timeMs: opt.stressSeconds * 1000,
        untilRace: true,
      };
      const s = await runStress(config, { signal: opt.signal });
      // Ctrl-C: the rows so far are the result.
      if (s.interrupted !== null) break;
      if (s.aborted !== null)
        throw new HarnessFault(`stress run of mutant ${m.id} aborted: ${s.aborted}`);
      stress = {
        mode: config.mode,
        caught: s.races > 0,
        iterations: s.iterations,
        races: s.races,
        ms: s.firstRaceMs ?? s.durationMs,
        firstRaceMs: s.firstRaceMs,
      };
    }
    const caught = r.violations > 0;
    const expected = m.equivalent === undefined ? "caught" : "equivalent";
    const row: MutantRow = {
      scenario: scenario.name,
      id: m.id,
      fix: m.fix,
      text: m.equivalent === undefined ? m.text : `${m.text} (equivalent: ${m.equivalent})`,
      cpus,
      expected,
      explorer: {
        caught,
        explored: r.explored,
        violations: r.violations,
        complete: r.complete,
        ms: Math.round(exploreMs * 10) / 10,
        replay: r.counterexample?.replay ?? null,
      },
      stress,
      ok: expected === "caught" ? caught : !caught && r.complete,
    };
    rows.push(row);
    opt.onRow?.(row);
  }
  return rows;
}
