// Issue 12, item 2: charts of an empty or non-finite series draw "no data"
// instead of looping forever, and `report` on such a result finishes.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { barChart, linearScale, lineChart, logScale } from "../src/report/svg.js";
import { fixtureResults } from "./bench-fixture.js";
import { gupstress } from "./run-cli.js";

describe("charts with nothing to draw", () => {
  it("scales survive non-finite ends", () => {
    const log = logScale(Number.POSITIVE_INFINITY, 0, 0, 100);
    expect(log.ticks.length).toBeGreaterThan(1);
    expect(log.ticks.length).toBeLessThan(40);
    expect(log.ticks.every(Number.isFinite)).toBe(true);
    expect(logScale(Number.NaN, Number.NaN, 0, 100).ticks.every(Number.isFinite)).toBe(true);
    expect(linearScale(Number.NaN, Number.POSITIVE_INFINITY, 0, 100).ticks.length).toBeGreaterThan(
      1,
    );
  });

  it("a log line chart of no series, or of only NaN, says no data", () => {
    for (const series of [[], [{ name: "ipi", points: [{ x: 2, y: Number.NaN }] }]]) {
      const svg = lineChart({ title: "t", xLabel: "x", yLabel: "y", logY: true, series });
      expect(svg).toContain("no data");
      expect(svg).not.toContain("NaN");
    }
  });

  it("a bar chart without bars says no data", () => {
    const svg = barChart({ title: "t", yLabel: "y", bars: [] });
    expect(svg).toContain("no data");
  });
});

describe("report on a result with empty series", () => {
  const dir = mkdtempSync(join(tmpdir(), "gupstress-i12-charts-"));
  const cases: [string, (r: ReturnType<typeof fixtureResults>) => void][] = [
    ["scaling []", (r) => (r.scaling = [])],
    ["settings.fixes []", (r) => (r.settings.fixes = [])],
  ];
  for (const [name, damage] of cases) {
    it(`${name}: finishes, exit 0, the charts say no data`, () => {
      const res = fixtureResults();
      damage(res);
      const file = join(dir, `${name.replace(/\W+/g, "_")}.json`);
      writeFileSync(file, JSON.stringify(res));
      const out = join(dir, `${name.replace(/\W+/g, "_")}-out`);
      const r = gupstress(["report", "--in", file, "--out", out], 20_000);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
      expect(readFileSync(join(out, "report.html"), "utf8")).toContain("no data");
    });
  }
});
