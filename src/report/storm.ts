// hugetlb unshare storms (bench --storm) as tables, a Markdown section and an
// HTML section with a chart: pure functions of a StormResults.

import type { StormCell, StormResults } from "../bench/storm.js";
import { formatRme, type Table, withRme } from "./markdown.js";
import { colorOf, escapeXml, formatNumber, lineChart, type Series } from "./svg.js";

const SCENARIO = "gup-vs-hugetlb-unshare";

/** The kernel's anchor: what an IPI per unshare did to fork/exit (1013af4f585f's cost). */
export const STORM_ANCHOR =
  "the kernel's anchor: with 1013af4f585f's IPI broadcast on every unshare, fork/exit became about 4x slower on a 196-core machine with 1.2 TB of shared hugetlb memory (what David Hildenbrand's December 2025 rework, IPI only when a table becomes exclusively owned, batched per mmu_gather, answers)";

function ratio(x: number | undefined, rme: number | null | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return "n/a";
  const v = `${x < 10 ? x.toFixed(2) : formatNumber(x)}x`;
  return rme === null || rme === undefined || !Number.isFinite(rme) ? v : `${v} ±${formatRme(rme)}`;
}

const by = (c: StormCell) => c.bystanders ?? 0;

export function stormTable(r: StormResults): Table {
  const p = r.plan;
  return {
    title: `hugetlb unshare storms (${SCENARIO})`,
    note: `${r.date !== undefined ? `Run ${r.date}; ` : ""}${r.cores} cores; ${p.worlds} shared PMD tables per mm (one per PUD range), ${p.ptes} entries each; ${p.rounds} interleaved round(s) of ${p.runMs} ms per cell${p.warmMs ? `, each counted after a ${p.warmMs} ms warm-up (a pool thread may have run another role or policy last)` : ""}. CPU 0 loops exit (unshare every table of one child mm, one mmu_gather) + fork (share them again) over the children (mms 1..shares-1); mm 0 is the parent, which never exits. CPUs 1.. run GUP-fast in their own mm (CPU c in mm (c-1) mod shares); bystanders walk no mm and spend 10 us stretches with interrupts off. Unshare p50/p99: every round's exits pooled, ± from a bootstrap that resamples whole rounds; the rest: medians over rounds with order-statistic intervals, ratios paired with none in the same round. Rows marked * run more CPU threads (bystanders included) than the ${r.cores} cores: oversubscribed, read the curve's shape, not the figures. An IPI here is a futex wake between threads (tens of microseconds when the target sleeps), not an APIC IPI (1 to 3 us).`,
    head: [
      "bystanders",
      "shares",
      "CPUs",
      "policy",
      "unshare p50 us",
      "unshare p99 us",
      "exits/s",
      "exit-fork slowdown vs none",
      "IPIs taken per exit",
      "parent walker calls/s",
      "walkers vs none",
      "children's walks that fell back",
    ],
    rows: r.cells.map((c) => [
      String(by(c)),
      String(c.shares),
      `${c.cpus}${c.cpus + by(c) > r.cores ? "*" : ""}`,
      c.fix,
      withRme(c.unshareP50Us, c.unshareP50Rme),
      withRme(c.unshareP99Us, c.unshareP99Rme ?? null),
      withRme(c.exitsPerSec, c.exitsPerSecRme ?? null),
      c.fix === r.plan.fixes[0] ? "1" : ratio(c.exitSlowdown, c.exitSlowdownRme),
      Number.isFinite(c.ipisPerExit) ? c.ipisPerExit.toFixed(1) : "n/a",
      formatNumber(c.walkerCallsPerSec),
      c.fix === r.plan.fixes[0] ? "1" : ratio(c.walkerVsNone, c.walkerVsNoneRme),
      Number.isFinite(c.fallbackRate) ? `${(c.fallbackRate * 100).toFixed(1)}%` : "n/a",
    ]),
  };
}

/**
 * The curve's shape in words: per policy, the unshare p50 at each CPU count
 * (fewest shares, no bystanders) as a multiple of its value at the fewest CPUs.
 */
export function stormShape(r: StormResults): string[] {
  const shares = Math.min(...r.plan.shares);
  const cpus = [...r.plan.cpus].sort((a, b) => a - b);
  if (cpus.length < 2) return [];
  const out: string[] = [];
  for (const fix of r.plan.fixes) {
    const at = (n: number) =>
      r.cells.find((c) => c.fix === fix && c.cpus === n && c.shares === shares && by(c) === 0);
    const first = at(cpus[0]);
    if (first === undefined || !(first.unshareP50Us > 0)) continue;
    const steps = cpus
      .slice(1)
      .map((n) => {
        const c = at(n);
        return c === undefined
          ? null
          : `${n}${n > r.cores ? "*" : ""}: ${(c.unshareP50Us / first.unshareP50Us).toFixed(1)}x`;
      })
      .filter((x) => x !== null);
    out.push(
      `${fix}: ${formatNumber(first.unshareP50Us)} us per unshare at ${cpus[0]} CPUs; ${steps.join(", ")}`,
    );
  }
  return out;
}

/** The slowdown at the largest CPU count without oversubscription (or the fewest CPUs), fewest shares. */
function anchorLine(r: StormResults): string {
  const fits = r.plan.cpus.filter((n) => n <= r.cores);
  const n = fits.length > 0 ? Math.max(...fits) : Math.min(...r.plan.cpus);
  const shares = Math.min(...r.plan.shares);
  const cells = r.cells.filter(
    (c) => c.cpus === n && c.shares === shares && by(c) === 0 && c.fix !== r.plan.fixes[0],
  );
  return `Beside ${STORM_ANCHOR}: ours at ${n} CPUs, ${shares} sharers, the exit-fork loop's slowdown against none: ${cells.map((c) => `${c.fix} ${ratio(c.exitSlowdown, c.exitSlowdownRme)}`).join(", ")}.`;
}

export function stormMarkdown(r: StormResults): string {
  const t = stormTable(r);
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  return [
    `## ${t.title}`,
    "",
    t.note,
    "",
    `- ${anchorLine(r)}`,
    `- The curve's shape (unshare p50 against CPU count, ${Math.min(...r.plan.shares)} sharers, no bystanders; * oversubscribed):`,
    ...stormShape(r).map((s) => `  - ${s}`),
    "",
    `| ${t.head.map(cell).join(" | ")} |`,
    `| ${t.head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...t.rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
    "",
    "\\* oversubscribed (more emulated CPUs, bystanders included, than cores).",
    "",
  ].join("\n");
}

/** The unshare p50 against CPU count, one line per policy (fewest shares), one chart per bystander count. */
export function stormCharts(r: StormResults): { id: string; caption: string; svg: string }[] {
  const shares = Math.min(...r.plan.shares);
  return (r.plan.bystanders ?? [0]).map((b) => ({
    id: `storm-unshare-${b}`,
    caption: `Cost of one hugetlb PMD-table unshare (p50, 95% margins) against CPU count, ${shares} sharers, ${b} bystander CPUs; log scale. Shaded: oversubscribed (more threads than the ${r.cores} cores): read the shape.`,
    svg: lineChart({
      title: `Unshare cost vs CPU count, ${b} bystanders`,
      xLabel: "CPUs (1 unsharer + N-1 GUP-fast walkers)",
      yLabel: "us per unshare (p50)",
      logY: true,
      shadeFromX: r.cores + 1 - b,
      shadeLabel: "oversubscribed",
      series: r.plan.fixes.map(
        (fix, i): Series => ({
          name: fix,
          color: colorOf(fix, i),
          points: r.cells
            .filter((c) => c.fix === fix && c.shares === shares && by(c) === b)
            .map((c) => ({ x: c.cpus, y: c.unshareP50Us, rme: c.unshareP50Rme })),
        }),
      ),
    }),
  }));
}

/** The HTML section: the anchor, the shape, the charts and the table. */
export function stormHtml(r: StormResults, table: (t: Table) => string): string {
  const figs = stormCharts(r)
    .map(
      (c) =>
        `<figure id="${c.id}">\n${c.svg}\n<figcaption>${escapeXml(c.caption)}</figcaption>\n</figure>`,
    )
    .join("\n");
  return [
    `<h2 id="storm">hugetlb unshare storms</h2>`,
    `<p class="note">${escapeXml(anchorLine(r))}</p>`,
    `<ul class="head">${stormShape(r)
      .map((s) => `<li>${escapeXml(s)}</li>`)
      .join("")}</ul>`,
    `<div class="grid">\n${figs}\n</div>`,
    table(stormTable(r)),
  ].join("\n");
}
