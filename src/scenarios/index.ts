// The registry: every scenario by name. Workers resolve a scenario (and a
// fix, or a weakened fix "base~knob=value") by name, the way the command line does.

import type { FixDecl } from "../kernel/fixes.js";
import { gupVsCollapse } from "./gup-vs-collapse.js";
import { gupVsHugetlbUnshare } from "./gup-vs-hugetlb-unshare.js";
import { gupVsMthpCollapse } from "./gup-vs-mthp-collapse.js";
import { gupVsSplit } from "./gup-vs-split.js";
import { gupVsTableFree } from "./gup-vs-table-free.js";
import { resolveFix, type Scenario } from "./scenario.js";

export const SCENARIOS: readonly Scenario[] = [
  gupVsCollapse,
  gupVsMthpCollapse,
  gupVsTableFree,
  gupVsHugetlbUnshare,
  gupVsSplit,
];

export const DEFAULT_SCENARIO = gupVsCollapse.name;

export const SCENARIO_NAMES = SCENARIOS.map((s) => s.name);

/** A scenario by name; throws an Error naming the accepted ones. */
export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (s === undefined)
    throw new Error(`unknown scenario '${name}' (accepted: ${SCENARIO_NAMES.join(", ")})`);
  return s;
}

// resolveFix lives with the Scenario type, so that a worker resolves its fix
// without loading every scenario (loaders.ts).
export { resolveFix };

/** The declaration a fix name (or weakened fix) starts from. */
export function fixDecl(scenario: Scenario, name: string): FixDecl | undefined {
  return scenario.fixes.find((f) => f.name === name.split("~", 1)[0]);
}

/**
 * Which fix plays which part in the cost summaries, read from the knobs (never
 * from a name): the first declared fix is the unprotected baseline; the
 * re-check is the first clean fix with a re-check (G6, or gup-vs-split's head
 * re-check GR) and no IPI; the IPI is the first clean fix with an IPI and no G6.
 */
export function fixParts(scenario: Scenario): {
  baseline: string;
  recheck: string | null;
  ipi: string | null;
} {
  const clean = scenario.fixes
    .filter((d) => d.expect === "clean")
    .map((d) => resolveFix(scenario, d.name));
  return {
    baseline: scenario.fixes[0].name,
    recheck: clean.find((f) => (f.recheckPmd || f.recheckHead) && f.ipi === "none")?.name ?? null,
    ipi: clean.find((f) => f.ipi !== "none" && !f.recheckPmd)?.name ?? null,
  };
}

/** What a fix is expected to give: its declaration's word; a mutant is expected to race unless equivalent. */
export function expectationOf(scenario: Scenario, name: string): "race" | "clean" {
  const mutant = scenario.mutants.find((m) => m.id === name || m.fix === name);
  if (mutant !== undefined) return mutant.equivalent === undefined ? "race" : "clean";
  return fixDecl(scenario, name)?.expect ?? "clean";
}
