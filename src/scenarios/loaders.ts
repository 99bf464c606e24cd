// The registry as the worker threads see it: every scenario by name, each
// loaded on demand, so that a worker imports the one scenario it runs (and its
// mutator's kernel steps), not all of them. The main thread keeps the
// synchronous registry (index.ts); test/scenario-loaders.test.ts checks that
// the two list the same scenarios.

import type { Scenario } from "./scenario.js";

export const SCENARIO_LOADERS: Readonly<Record<string, () => Promise<Scenario>>> = {
  "gup-vs-collapse": async () => (await import("./gup-vs-collapse.js")).gupVsCollapse,
  "gup-vs-mthp-collapse": async () => (await import("./gup-vs-mthp-collapse.js")).gupVsMthpCollapse,
  "gup-vs-table-free": async () => (await import("./gup-vs-table-free.js")).gupVsTableFree,
  "gup-vs-hugetlb-unshare": async () =>
    (await import("./gup-vs-hugetlb-unshare.js")).gupVsHugetlbUnshare,
  "gup-vs-split": async () => (await import("./gup-vs-split.js")).gupVsSplit,
};

/**
 * A scenario by name, loading only its own modules. A scenario registered in
 * index.ts but not here still loads (with the whole registry); an unknown
 * name throws the registry's Error.
 */
export async function loadScenario(name: string): Promise<Scenario> {
  const load = Object.hasOwn(SCENARIO_LOADERS, name) ? SCENARIO_LOADERS[name] : undefined;
  if (load !== undefined) return load();
  return (await import("./index.js")).scenarioByName(name);
}
