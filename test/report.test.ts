// The report writer on a fixed result: every chart drawn, the figures in the
// text, nothing fetched from the network. No timings.

import { describe, expect, it } from "vitest";
import { charts, renderHtml } from "../src/report/html.js";
import { markdownSummary, resultTables, withRme } from "../src/report/markdown.js";
import {
  barChart,
  ecdfChart,
  escapeXml,
  formatNumber,
  lineChart,
  logScale,
} from "../src/report/svg.js";
import { fixtureResults } from "./bench-fixture.js";

const res = fixtureResults();

describe("svg charts", () => {
  it("a bar chart draws one bar per value with its label and error bar", () => {
    const svg = barChart({
      title: "T <&>",
      yLabel: "y",
      bars: [
        { label: "a", value: 10, rme: 5 },
        { label: "b", value: 20, rme: null },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<rect [^>]*rx="2"/g)?.length).toBe(2);
    expect(svg).toContain("T &lt;&amp;&gt;");
    expect(svg).toContain(">20<");
    expect(svg).not.toContain("NaN");
  });

  it("a log line chart keeps its points inside the plot", () => {
    const svg = lineChart({
      title: "t",
      xLabel: "x",
      yLabel: "y",
      logY: true,
      series: [
        {
          name: "ipi",
          points: [
            { x: 2, y: 0.5 },
            { x: 4, y: 5000 },
            { x: 8, y: Number.NaN },
          ],
        },
      ],
    });
    expect(svg.match(/<circle/g)?.length).toBe(2);
    expect(svg).not.toContain("NaN");
    const ys = [...svg.matchAll(/cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    for (const y of ys) expect(y).toBeGreaterThanOrEqual(0);
  });

  it("an ECDF chart names how many trials raced", () => {
    const svg = ecdfChart({
      title: "t",
      xLabel: "ms",
      series: [{ name: "none", values: [1, 2, 3], total: 4 }],
    });
    expect(svg).toContain("none (3/4)");
  });

  it("helpers: number format, escaping, log ticks", () => {
    expect(formatNumber(1_234_000)).toBe("1.23M");
    expect(formatNumber(45_600)).toBe("45.6k");
    expect(formatNumber(0.5)).toBe("0.5");
    expect(escapeXml(`"a"<b>`)).toBe("&quot;a&quot;&lt;b&gt;");
    expect(logScale(0.3, 4000, 0, 100).ticks).toEqual([0.1, 1, 10, 100, 1000, 10000]);
    expect(withRme(1_234_000, 3.33)).toBe("1.23M ±3.3%");
    expect(withRme(Number.NaN, 1)).toBe("n/a");
  });
});

describe("the HTML report", () => {
  const html = renderHtml(res);

  it("a race power run that never reached the window says 'sample too small', not 0", () => {
    const res = fixtureResults();
    const none = res.racePower[0];
    res.racePower[0] = { ...none, races: 0, racesPerMillion: 0, sampleTooSmall: true };
    const md = markdownSummary(res);
    expect(md).toMatch(/sample too small/);
    expect(md).not.toMatch(new RegExp(`${none.fix} \\(\\d+ CPUs\\): 0 races per million`));
  });

  it("draws every chart, each a non-empty inline svg", () => {
    const cs = charts(res);
    expect(cs.map((c) => c.id)).toEqual([
      "throughput",
      "collapse",
      "ipi-scaling",
      "ipi-wait",
      "gup-scaling",
      "first-race",
    ]);
    for (const c of cs) {
      expect(html).toContain(`<figure id="${c.id}">`);
      expect(c.svg).toMatch(/^<svg[^>]*viewBox="0 0 \d+ \d+"/);
      expect(c.svg.match(/<(rect|path|circle)\b/g)?.length ?? 0).toBeGreaterThan(5);
      expect(c.svg).not.toContain("NaN");
      expect(c.svg).not.toContain("Infinity");
    }
    expect(html.match(/<svg\b/g)?.length).toBe(cs.length);
  });

  it("draws kvm-pv-flush's race rate against the preemption probability, from 0 (no races) to the default", () => {
    const curve = [0, 0.25, 0.5, 1].map((scale) => ({
      fix: "kvm-pv-flush",
      scale,
      prob: 0.1 * scale,
      iterations: 100_000,
      races: Math.round(500 * scale),
      racesPerMillion: 5000 * scale,
      racesPerMillionRme: scale === 0 ? null : 9,
    }));
    const withCurve = { ...res, preemptCurve: curve };
    const c = charts(withCurve).find((x) => x.id === "preempt-curve");
    expect(c).toBeDefined();
    expect(c?.caption).toContain("kvm-pv-flush at 0: 0 races in 100k iterations");
    // the line's first point sits on the x axis's 0 and the y axis's 0 (the plot's bottom)
    const d = /<path d="M([\d.]+) ([\d.]+)L/.exec(c?.svg ?? "");
    const bottom = Math.max(
      ...[...(c?.svg ?? "").matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) =>
        Number(m[1]),
      ),
    );
    expect(Number(d?.[2])).toBeCloseTo(bottom, 5);
    const xs = [...(c?.svg ?? "").matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(4);
    // drawn to scale: 0, 0.025, 0.05, 0.1 -> gaps 1 : 1 : 2
    expect(xs[3] - xs[2]).toBeCloseTo(2 * (xs[2] - xs[1]), 5);
    expect(renderHtml(withCurve)).toContain('<figure id="preempt-curve">');
    expect(markdownSummary(withCurve)).toContain("| kvm-pv-flush | 0.000 | 100k | 0 | 0 |");
    expect(markdownSummary(withCurve)).not.toContain("with no preemption at all");
    // a race at probability 0 is a finding, and the note says so
    const broken = { ...res, preemptCurve: curve.map((c) => ({ ...c, races: c.races + 1 })) };
    expect(markdownSummary(broken)).toContain(
      "kvm-pv-flush raced 1 times with no preemption at all",
    );
  });

  it("the mutator's wait per operation: one chart per bystander count, fixes that never wait left out", () => {
    const base = fixtureResults();
    const scaling = [0, 4].flatMap((b) =>
      base.scaling.map((v) => {
        const waits = v.fix === "ipi" || v.fix === "upstream";
        return {
          ...v,
          ...(b > 0 ? { bystanders: b } : {}),
          mutatorWaitUs: waits ? { p50: v.cpus + b, p99: 10 * (v.cpus + b) } : { p50: 0, p99: 0 },
          rme: { ...v.rme, mutatorWaitUs: waits ? { p50: 4, p99: 9 } : { p50: 0, p99: 0 } },
        };
      }),
    );
    const withWaits = {
      ...base,
      settings: { ...base.settings, bystanders: [0, 4], mutator: "table free" },
      scaling,
    };
    const cs = charts(withWaits).filter((c) => c.id.startsWith("mutator-wait-"));
    expect(cs.map((c) => c.id)).toEqual(["mutator-wait-0", "mutator-wait-4"]);
    for (const c of cs) {
      expect(c.svg).toContain("ipi p50");
      expect(c.svg).toContain("upstream p99");
      expect(c.svg).not.toContain("recheck p50");
      expect(c.svg).not.toContain("NaN");
    }
    // the CPU-count charts draw the runs without bystanders: one point per fix and CPU count
    const gup = charts(withWaits).find((c) => c.id === "gup-scaling");
    expect(gup?.svg.match(/<circle\b/g)).toHaveLength(4 * 4);
    const scalingTable = resultTables(withWaits).find((t) => t.title === "Scaling with CPU count");
    expect(scalingTable?.head.slice(0, 3)).toEqual(["CPUs", "bystanders", "fix"]);
    expect(scalingTable?.rows).toHaveLength(2 * 16);
    const md = markdownSummary(withWaits);
    expect(md).toContain(
      "| CPUs | bystanders | fix | wait p50 us | wait p99 us | table free p50 us |",
    );
    // a wait of 0 in every round is exact: printed without a margin
    expect(md).toMatch(/\| 2 \| 4 \| recheck \| 0 \| 0 \|/);
    expect(md).toMatch(/\| 2 \| 4 \| ipi \| 6 ±4\.0% \| 60 ±9\.0% \|/);
  });

  it("needs no network: no external scripts, styles, fonts or images", () => {
    const urls = [...html.matchAll(/https?:\/\/[^\s"')]+/g)].map((m) => m[0]);
    expect(urls.every((u) => u === "http://www.w3.org/2000/svg")).toBe(true);
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
  });

  it("shows the figures and the environment", () => {
    expect(html).toContain("Test CPU 9000");
    expect(html).toContain("abcdef123456");
    expect(html).toContain("1.23M ±3.3%");
    expect(html).toContain("2.93x ±1.9%");
    expect(html).toContain("p &lt; 1.0e-5 per iteration");
    expect(html).toContain("&gt; 3000");
  });
});

describe("the Markdown summary", () => {
  const md = markdownSummary(res);

  it("has a table per section with one row per variant", () => {
    const tables = resultTables(res);
    expect(tables.map((t) => t.title)).toHaveLength(4);
    expect(tables[0].rows).toHaveLength(4);
    expect(tables[1].rows).toHaveLength(16);
    for (const t of tables) for (const r of t.rows) expect(r).toHaveLength(t.head.length);
    expect(md).toContain("| fix | GUP calls/s per CPU |");
  });

  it("quotes the headline figures", () => {
    expect(md).toContain("Harness overhead against the floor: 2.93x ±1.9%");
    expect(md).toContain("costs 1.05x ±0.8% per walk at the floor and 1.20x ±1.7% in the harness");
    expect(md).toContain("none (2 CPUs): 37.5k races per million");
    expect(md).toContain("v20.20.2");
    expect(md).not.toContain("NaN");
  });
});
