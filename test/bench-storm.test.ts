// bench --storm's bystanders, its saved results and the report's storm
// section; and the bench's --cpus list. Counts, not timings.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadStorm, STORM_LATEST, saveStorm } from "../src/bench/files.js";
import { ResultsFileError } from "../src/bench/read.js";
import { runStorm, type StormResults, stormPlan } from "../src/bench/storm.js";
import { parseCpuList } from "../src/cli/bench-command.js";
import { htmlTable } from "../src/report/html.js";
import { stormHtml, stormMarkdown, stormShape } from "../src/report/storm.js";
import { gupstress } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "gupstress-storm-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench --storm with bystanders", () => {
  let r: StormResults;

  it("an IPI to all reaches the bystander, one to mm_cpumask does not", async () => {
    r = await runStorm(
      {
        fixes: ["none", "ipi-per-unshare", "targeted"],
        cpus: [2],
        shares: [2],
        bystanders: [0, 1],
        worlds: 2,
        ptes: 2,
        runMs: 60,
        rounds: 1,
      },
      () => {},
    );
    const cell = (fix: string, b: number) =>
      r.cells.find((c) => c.fix === fix && (c.bystanders ?? 0) === b);
    expect(r.cells).toHaveLength(6);
    for (const c of r.cells) expect(c.exitsPerSec, `${c.fix}+${c.bystanders}`).toBeGreaterThan(0);
    // one IPI per table (2) per target: the walker, then the walker and the bystander
    expect(cell("ipi-per-unshare", 0)?.ipisPerExit).toBe(2);
    expect(cell("ipi-per-unshare", 1)?.ipisPerExit).toBe(4);
    // the exiting child's mm_cpumask is empty (CPU 1 walks in the parent): nobody is asked
    expect(cell("targeted", 1)?.ipisPerExit).toBe(0);
    expect(cell("none", 1)?.ipisPerExit).toBe(0);
  });

  it("saved whole, read back; the report's section has the anchor, the shape and a chart per bystander count", () => {
    const [dated, latest] = saveStorm(r, dir, true);
    expect(dated).toMatch(/storm-.*-quick-\d+-[0-9a-f]{6}\.json$/);
    expect(latest).toBe(join(dir, STORM_LATEST));
    const back = loadStorm(latest);
    expect(back?.cells).toEqual(r.cells);
    const md = stormMarkdown(r);
    expect(md).toContain("4x slower on a 196-core machine");
    expect(md).toMatch(/\| 1 \| 2 \| 2\* \| ipi-per-unshare \|/); // 3 threads on fewer cores: marked
    const html = stormHtml(r, htmlTable);
    expect(html).toContain('<figure id="storm-unshare-0">');
    expect(html).toContain('<figure id="storm-unshare-1">');
    expect(loadStorm(join(dir, "absent.json"))).toBeNull();
    const bad = join(dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ tool: "gupstress-bench" }));
    expect(() => loadStorm(bad)).toThrow(ResultsFileError);
  });

  it("the shape: each policy's unshare p50 at each CPU count over its value at the fewest", () => {
    const cell = (fix: string, cpus: number, p50: number) => ({
      fix,
      cpus,
      shares: 2,
      unshareP50Us: p50,
      unshareP99Us: p50,
      unshareP50Rme: null,
      exitsPerSec: 1,
      walkerCallsPerSec: 1,
      walkerVsNone: 1,
      walkerVsNoneRme: null,
      fallbackRate: 0,
      ipisPerExit: 0,
    });
    const fake: StormResults = {
      tool: "gupstress-storm",
      plan: { ...stormPlan(false), fixes: ["none", "ipi-per-unshare"], cpus: [2, 4, 8] },
      cores: 4,
      cells: [
        cell("none", 2, 0.1),
        cell("none", 4, 0.1),
        cell("none", 8, 0.2),
        cell("ipi-per-unshare", 2, 2),
        cell("ipi-per-unshare", 4, 8),
        cell("ipi-per-unshare", 8, 40),
      ],
      wallMs: 1,
    };
    expect(stormShape(fake)).toEqual([
      "none: 0.1 us per unshare at 2 CPUs; 4: 1.0x, 8*: 2.0x",
      "ipi-per-unshare: 2 us per unshare at 2 CPUs; 4: 4.0x, 8*: 20.0x",
    ]);
  });
});

describe("bench --cpus", () => {
  it("a list of CPU counts, each 2 to 64; anything else is one line and exit 2", () => {
    expect(parseCpuList("2,4,8")).toEqual([2, 4, 8]);
    expect(parseCpuList(" 16 , 2")).toEqual([16, 2]);
    for (const bad of ["1,2", "2,65", "2,,4", "x", "2.5", ""]) expect(parseCpuList(bad)).toBeNull();
    const r = gupstress(["bench", "--cpus", "2,1", "--out", dir]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("--cpus '2,1'");
  });
});
