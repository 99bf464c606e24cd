// The campaign workflow parses, has the jobs the issue asks for, and every
// `npm run X` it (and scripts/campaign.sh) uses is a script in package.json.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = join(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const wf = parse(readFileSync(join(root, ".github/workflows/campaign.yml"), "utf8"));

type Step = { run?: string; uses?: string; with?: Record<string, unknown> };
const steps = (job: string): Step[] => wf.jobs[job].steps;
/** A GitHub Actions expression, `${{ X }}`, without a string biome reads as a template. */
const gh = (x: string) => `$${"{{"} ${x} }}`;
const runs = (job: string) => steps(job).flatMap((s) => (s.run ? [s.run] : []));

/** The npm scripts a command line names: `npm run [-s] X`, `npm test`, `npm ci`. */
function scriptsIn(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/npm run (?:-s |--silent )?([\w:-]+)/g)) names.push(m[1]);
  if (/npm test\b/.test(text)) names.push("test");
  return names;
}

describe("campaign workflow", () => {
  it("gate job: npm ci, npm run gate and npm test on Node 20, 22 and 24", () => {
    expect(wf.jobs.gate.strategy.matrix.node).toEqual([20, 22, 24]);
    const r = runs("gate");
    expect(r).toContain("npm ci");
    expect(r.some((x) => x.startsWith("npm run gate"))).toBe(true);
    expect(r).toContain("npm test");
    const setup = steps("gate").find((s) => s.uses?.startsWith("actions/setup-node"));
    expect(setup?.with?.["node-version"]).toBe(gh("matrix.node"));
  });

  it("3 shards, each with its own seed range and --out shard-K.jsonl, uploaded", () => {
    expect(wf.jobs.shard.strategy.matrix.shard).toEqual([1, 2, 3]);
    const cmd = runs("shard").find((x) => x.includes("--out")) ?? "";
    expect(cmd).toMatch(/--seed \$\{\{ matrix\.shard \}\}000000/);
    expect(cmd).toMatch(/--out shard-\$\{\{ matrix\.shard \}\}\.jsonl/);
    const up = steps("shard").find((s) => s.uses === "actions/upload-artifact@v4");
    expect(up?.with?.path).toBe(`shard-${gh("matrix.shard")}.jsonl`);
  });

  it("merge job downloads every shard and its last step is the merge", () => {
    expect(wf.jobs.merge.needs).toBe("shard");
    expect(steps("merge").some((s) => s.uses === "actions/download-artifact@v4")).toBe(true);
    const r = runs("merge");
    expect(r[r.length - 1]).toMatch(/^npm run -s merge -- shards\/shard-\*\.jsonl$/);
  });

  it("every npm script the workflow and the campaign script use exists", () => {
    const texts = [
      ...Object.keys(wf.jobs).flatMap(runs),
      readFileSync(join(root, "scripts/campaign.sh"), "utf8"),
    ];
    const used = new Set(texts.flatMap(scriptsIn));
    expect([...used].sort()).toEqual(expect.arrayContaining(["gate", "merge", "soak", "test"]));
    for (const name of used) expect(pkg.scripts[name], `npm script ${name}`).toBeDefined();
    for (const name of ["merge", "gate"]) expect(pkg.scripts[`pre${name}`]).toBeDefined();
    // and every gupstress command they name is one the CLI has
    const cli = readFileSync(join(root, "src/cli/main.ts"), "utf8");
    for (const t of texts)
      for (const m of t.matchAll(/dist\/src\/cli\.js (\w+)/g))
        expect(cli).toContain(`  ${m[1]}: {`);
    expect(statSync(join(root, "scripts/campaign.sh")).mode & 0o111).not.toBe(0);
  });
});
