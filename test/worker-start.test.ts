// A worker loads only what its role needs (the one scenario it runs), and
// warms the step code on scratch memory before it comes online.

import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { defaultConfig } from "../src/run/config.js";
import { geometryFor } from "../src/run/stress.js";
import { warmUp } from "../src/run/warmup.js";
import { SCENARIO_NAMES, SCENARIOS } from "../src/scenarios/index.js";
import { loadScenario, SCENARIO_LOADERS } from "../src/scenarios/loaders.js";
import { resolveFix } from "../src/scenarios/scenario.js";

const ROOT = join(import.meta.dirname, "..");

/** Files a module loads at start (static imports, type-only ones excluded: they vanish). */
function staticGraph(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/^(?:import|export)(?!\s+type\s)[^;]*?from\s+"(\.[^"]+)"/gms))
      visit(resolve(dirname(f), m[1].replace(/\.js$/, ".ts")));
  };
  visit(entry);
  return [...seen].map((f) => relative(ROOT, f));
}

describe("worker start-up", () => {
  it("the lazy registry lists every scenario, each loading the registry's own object", async () => {
    expect(Object.keys(SCENARIO_LOADERS).sort()).toEqual([...SCENARIO_NAMES].sort());
    for (const s of SCENARIOS) expect(await loadScenario(s.name)).toBe(s);
    await expect(loadScenario("no-such")).rejects.toThrow(/accepted: gup-vs-collapse/);
  });

  it("a CPU worker loads no scenario, explorer, report or command module up front", () => {
    const graph = staticGraph(join(ROOT, "workers", "cpu.ts"));
    expect(graph).toContain("src/run/driver.ts");
    const heavy = graph.filter((f) =>
      /^src\/(scenarios\/(gup-vs-|index)|explore\/|report\/|cli\/|bench\/)/.test(f),
    );
    expect(heavy).toEqual([]);
  });

  it("the warm-up runs every scenario's every fix to the end on scratch memory", () => {
    for (const s of SCENARIOS) {
      for (const d of s.fixes) {
        const config = { ...defaultConfig(s.name), cpus: 3, bystanders: 1 };
        const r = warmUp(s, resolveFix(s, d.name), geometryFor(config), true, 1, 24, 60_000);
        expect({ scenario: s.name, fix: d.name, trials: r.trials }).toEqual({
          scenario: s.name,
          fix: d.name,
          trials: 24,
        });
      }
    }
  });
});
