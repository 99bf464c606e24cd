// The layering the tree promises: no import cycles in src/, nothing in src/
// reaches up into bench/ or into the commands of src/cli/, and a scenario's
// knowledge stays in its scenario file and its kernel steps.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Static imports (type-only ones too: a cycle of types is still a cycle of knowledge). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gms)) {
    out.push(resolve(dirname(file), m[1].replace(/\.js$/, ".ts")));
  }
  return out;
}

const src = files(join(ROOT, "src"));
const graph = new Map(src.map((f) => [f, importsOf(f)]));
const rel = (f: string) => relative(ROOT, f);

describe("layering", () => {
  it("src/ has no import cycles", () => {
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 2) return;
      if (state.get(f) === 1) {
        cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(" -> "));
        return;
      }
      state.set(f, 1);
      for (const g of graph.get(f) ?? []) if (graph.has(g)) visit(g, [...path, f]);
      state.set(f, 2);
    };
    for (const f of src) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("nothing in src/ imports bench/, and only src/cli/ and the entry import src/cli/", () => {
    const wrong: string[] = [];
    for (const [f, deps] of graph) {
      for (const d of deps) {
        const r = rel(d);
        if (r.startsWith("bench/")) wrong.push(`${rel(f)} -> ${r}`);
        const fromCli = rel(f).startsWith("src/cli/") || rel(f) === "src/cli.ts";
        if (r.startsWith("src/cli/") && !fromCli) wrong.push(`${rel(f)} -> ${r}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("only the scenario's own files name its outcomes; no driver branches on a fix's name", () => {
    const scenarioFiles = new Set([
      "src/scenarios/gup-vs-collapse.ts",
      "src/kernel/collapse.ts",
      "src/kernel/gup.ts",
      "src/scenarios/gup-vs-mthp-collapse.ts",
      "src/kernel/mthp-collapse.ts",
    ]);
    const wrong: string[] = [];
    for (const f of src) {
      if (scenarioFiles.has(rel(f))) continue;
      const text = readFileSync(f, "utf8");
      for (const needle of [
        /"stale-pin"/,
        /"collapse-[a-z-]+"/,
        // a fix (or its name) compared with a string literal ("all" is the CLI's word, not a fix)
        /(?<!typeof )\b(?:fix|fixName|fixArg|\.fix)\s*===\s*"(?!all")/,
      ])
        if (needle.test(text)) wrong.push(`${rel(f)}: ${needle}`);
    }
    expect(wrong).toEqual([]);
  });
});
