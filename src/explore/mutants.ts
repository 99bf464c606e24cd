// Weakened fixes: each is a real fix with one knob turned (a fix is data, so
// a mutant is a name, "base~knob=value", that every thread resolves itself).
// A harness that cannot tell them from the real fixes proves nothing. Each
// scenario declares its mutants; each runs through the explorer (exhaustive)
// and a short stress run.

import { performance } from "node:perf_hooks";
import { type Fix, KNOB_DEFAULTS, type Knobs, parseFix } from "../kernel/fixes.js";
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

/** The same weakening as a mutant, in another scenario. */
export interface SameWeakening {
  scenario: Scenario;
  /** the weakened fix there: a fix with the same knobs as the mutant's base, the same knobs weakened */
  fix: string;
  /** the mutant that scenario declares for it, if any */
  mutant: MutantDecl | null;
}

const sameKnobs = (a: Fix, b: Fix): boolean =>
  (Object.keys(KNOB_DEFAULTS) as (keyof Knobs)[]).every((k) => a[k] === b[k]);

function resolved(scenario: Scenario, name: string): Fix | null {
  const f = parseFix(scenario.fixes, name);
  return typeof f === "string" ? null : f;
}

/**
 * The same weakening in every other scenario: where a fix has exactly the
 * knobs of the mutant's base fix, that fix weakened by the mutant's knobs
 * (`recheck~recheckPte=false` in one scenario is `recheck~recheckPte=false`,
 * or whatever that fix is called, in another). Matched from the knobs alone,
 * never from names; a scenario with no fix of the same knobs has no match.
 */
export function sameWeakening(
  scenario: Scenario,
  mutant: MutantDecl,
  scenarios: readonly Scenario[] = SCENARIOS,
): SameWeakening[] {
  const [baseName, weakening] = mutant.fix.split("~", 2);
  const base = resolved(scenario, baseName);
  if (weakening === undefined || base === null) return [];
  const out: SameWeakening[] = [];
  for (const other of scenarios) {
    if (other.name === scenario.name) continue;
    for (const decl of other.fixes) {
      const theirs = resolved(other, decl.name);
      if (theirs === null || !sameKnobs(theirs, base)) continue;
      const fix = `${decl.name}~${weakening}`;
      const weakened = resolved(other, fix);
      if (weakened === null) break;
      const declared = other.mutants.find((m) => {
        const f = resolved(other, m.fix);
        return f !== null && sameKnobs(f, weakened);
      });
      out.push({ scenario: other, fix, mutant: declared ?? null });
      break;
    }
  }
  return out;
}

/** One scenario where a mutant's weakening is caught (or was looked for). */
export interface CaughtIn {
  scenario: string;
  fix: string;
  /** the mutant id that scenario declares for this weakening, if any */
  mutant: string | null;
  /**
   * "explored": the explorer ran it here (the mutant's own scenario, or the
   * same weakening of an equivalent mutant elsewhere); "declared": another
   * scenario declares it killable, and its own row checks that
   */
  how: "explored" | "declared";
  caught: boolean;
  explored: number | null;
  replay: string | null;
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
  /**
   * Where the same weakening is caught: this scenario for a killable mutant,
   * and each other scenario that declares it killable; for an equivalent
   * one, each other scenario with the same weakening, explored here (caught
   * or not). Empty when no other scenario has a fix with the same knobs.
   */
  caughtIn: CaughtIn[];
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
  /** explore an equivalent mutant's weakening in the other scenarios (default true; the gate skips it) */
  caughtIn?: boolean;
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
    const caughtIn: CaughtIn[] = [];
    if (expected === "caught") {
      caughtIn.push({
        scenario: scenario.name,
        fix: m.fix,
        mutant: m.id,
        how: "explored",
        caught,
        explored: r.explored,
        replay: r.counterexample?.replay ?? null,
      });
    }
    for (const same of opt.caughtIn === false ? [] : sameWeakening(scenario, m)) {
      const id = same.mutant?.id ?? null;
      if (expected === "caught") {
        // Killable here: other scenarios' own rows check their declared mutants.
        if (same.mutant !== null && same.mutant.equivalent === undefined)
          caughtIn.push({
            scenario: same.scenario.name,
            fix: same.fix,
            mutant: id,
            how: "declared",
            caught: true,
            explored: null,
            replay: null,
          });
        continue;
      }
      const there = await exploreAsync(
        { ...DEFAULT_EXPLORE, scenario: same.scenario.name, fix: same.fix, cpus, ptes: opt.ptes },
        opt.signal,
      );
      if (there === null) break;
      caughtIn.push({
        scenario: same.scenario.name,
        fix: same.fix,
        mutant: id,
        how: "explored",
        caught: there.violations > 0,
        explored: there.explored,
        replay: there.counterexample?.replay ?? null,
      });
    }
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
      caughtIn,
      ok: expected === "caught" ? caught : !caught && r.complete,
    };
    rows.push(row);
    opt.onRow?.(row);
  }
  return rows;
}
