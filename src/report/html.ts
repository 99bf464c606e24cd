// The benchmark report as one self-contained HTML page: inline CSS, charts as
// inline SVG, no scripts, no fonts or images from the network.

import { environmentLine, headlines, opName, resultTables, type Table } from "./markdown.js";
import { type BenchResults, partsOf } from "./results.js";
import {
  barChart,
  colorOf,
  ecdfChart,
  escapeXml,
  formatNumber,
  lineChart,
  type Series,
} from "./svg.js";

export interface Chart {
  id: string;
  caption: string;
  svg: string;
}

/** Every chart of the report, in order. */
export function charts(res: BenchResults): Chart[] {
  const v = res.variants;
  const cpus = v[0]?.cpus ?? 2;
  const fixes = res.settings.fixes;
  // The CPU-count charts: no bystanders (the mutator-wait charts have one per bystander count).
  const scal = (fix: string) =>
    res.scaling.filter((s) => s.fix === fix && (s.bystanders ?? 0) === 0);
  const cores = res.environment.cores;
  const op = opName(res);
  const Op = op.charAt(0).toUpperCase() + op.slice(1);
  const xCpus = `CPUs (1 ${op} + N-1 GUP-fast)`;
  const out: Chart[] = [
    {
      id: "throughput",
      caption: `GUP-fast calls per second per GUP CPU, freerun, ${cpus} CPUs. Error bars: 95% over ${res.settings.rounds} interleaved rounds; under each bar, the ratio to none paired per round.`,
      svg: barChart({
        title: "GUP-fast throughput per fix",
        yLabel: "calls/s per GUP CPU",
        bars: v.map((x) => ({
          label: x.fix,
          value: x.gupCallsPerSec,
          rme: x.rme.gupCallsPerSec,
          note:
            x.fix === partsOf(res).baseline
              ? "baseline"
              : `${x.vsNone.gupCallsPerSec.toFixed(2)}x ${partsOf(res).baseline}`,
        })),
      }),
    },
    {
      id: "collapse",
      caption: `Latency of one ${op} attempt (the mutator's whole operation), p50 with its 95% margin, ${cpus} CPUs; the p99 is in the table.`,
      svg: barChart({
        title: `${Op} latency per fix (p50)`,
        yLabel: "microseconds",
        bars: v.map((x) => ({
          label: x.fix,
          value: x.collapseLatencyUs.p50,
          rme: x.rme.collapseLatencyUs.p50,
          note: `p99 ${formatNumber(x.collapseLatencyUs.p99)} us`,
        })),
      }),
    },
    {
      id: "ipi-scaling",
      caption: `${Op} latency p99 against the number of CPUs (log scale). With an IPI, an operation that gets as far as its broadcast waits for every target to take it; with the re-check alone it waits for nobody. The p99 is shown because the p50 is often an attempt that aborts early (for a collapse, at the K0 scan: a page is pinned) before any IPI, more so as GUP CPUs are added. Shaded: more CPU threads than the ${cores} cores.`,
      svg: lineChart({
        title: `${Op} latency (p99) vs CPU count`,
        xLabel: xCpus,
        yLabel: `${op} p99, us`,
        logY: true,
        shadeFromX: cores + 1,
        shadeLabel: "oversubscribed",
        series: fixes.map(
          (fix): Series => ({
            name: fix,
            points: scal(fix).map((s) => ({
              x: s.cpus,
              y: s.collapseLatencyUs.p99,
              rme: s.rme.collapseLatencyUs.p99,
            })),
          }),
        ),
      }),
    },
    {
      id: "ipi-wait",
      caption:
        "Time from sending the IPI broadcast (K5) to the last ack (K5W), p50 and p99 (dashed), against CPU count (log scale). Emulated: futex wakes between threads, not APIC IPIs.",
      svg: lineChart({
        title: "IPI broadcast wait vs CPU count",
        xLabel: xCpus,
        yLabel: "IPI wait, us",
        logY: true,
        shadeFromX: cores + 1,
        shadeLabel: "oversubscribed",
        series: fixes
          .filter((fix) => scal(fix).some((s) => s.ipiWaitUs))
          .flatMap((fix): Series[] => [
            {
              name: `${fix} p50`,
              points: scal(fix).map((s) => ({
                x: s.cpus,
                y: s.ipiWaitUs?.p50 ?? Number.NaN,
                rme: s.rme.ipiWaitUs?.p50,
              })),
            },
            {
              name: `${fix} p99`,
              dashed: true,
              points: scal(fix).map((s) => ({ x: s.cpus, y: s.ipiWaitUs?.p99 ?? Number.NaN })),
            },
          ])
          .map((s) => ({ ...s, color: s.color ?? colorFor(s.name) })),
      }),
    },
    {
      id: "gup-scaling",
      caption:
        "GUP-fast calls per second per GUP CPU against CPU count. Each IPI handler entry costs the GUP CPU that takes it; past the core count, CPU threads share cores.",
      svg: lineChart({
        title: "GUP-fast throughput vs CPU count",
        xLabel: xCpus,
        yLabel: "calls/s per GUP CPU",
        shadeFromX: cores + 1,
        shadeLabel: "oversubscribed",
        series: fixes.map(
          (fix): Series => ({
            name: fix,
            points: scal(fix).map((s) => ({
              x: s.cpus,
              y: s.gupCallsPerSec,
              rme: s.rme.gupCallsPerSec,
            })),
          }),
        ),
      }),
    },
  ];
  // The mutator's wait per operation against CPU count, one chart per bystander count.
  const waits = res.scaling.filter((x) => x.mutatorWaitUs !== undefined);
  for (const by of res.settings.bystanders ?? [0]) {
    const at = waits.filter((x) => (x.bystanders ?? 0) === by);
    const waiting = fixes.filter((fix) =>
      at.some((x) => x.fix === fix && (x.mutatorWaitUs?.p99 ?? 0) > 0),
    );
    if (waiting.length === 0) continue;
    const line = (fix: string, q: "p50" | "p99"): Series => ({
      name: `${fix} ${q}`,
      dashed: q === "p99",
      color: colorFor(fix),
      points: at
        .filter((x) => x.fix === fix)
        .map((x) => ({
          x: x.cpus,
          y: x.mutatorWaitUs?.[q] ?? Number.NaN,
          rme: x.rme.mutatorWaitUs?.[q],
        })),
    });
    out.push({
      id: `mutator-wait-${by}`,
      caption: `The mutator's time blocked per ${op} (IPI acks or a grace period), p50 (solid) and p99 (dashed) with their 95% margins, against CPU count, ${by} bystander CPU${by === 1 ? "" : "s"} beside them (log scale: a p50 of 0, an operation that did not block, is not drawn; the table has it). Fixes that never block are left out. Shaded: more CPU threads (bystanders included) than the ${cores} cores.`,
      svg: lineChart({
        title: `Mutator wait per ${op} vs CPU count, ${by} bystanders`,
        xLabel: xCpus,
        yLabel: "blocked per operation, us",
        logY: true,
        shadeFromX: cores + 1 - by,
        shadeLabel: "oversubscribed",
        height: Math.max(360, 60 + 18 * 2 * waiting.length),
        series: waiting.flatMap((fix) => [line(fix, "p50"), line(fix, "p99")]),
      }),
    });
  }
  const curve = res.preemptCurve ?? [];
  if (curve.length > 0) {
    const curveFixes = [...new Set(curve.map((c) => c.fix))];
    out.push({
      id: "preempt-curve",
      caption: `Races per million lockstep iterations (2 CPUs, default delays) against the host-preemption probability, from 0 (no preemption: the PV flush reaches every walker) to the scenario's default; error bars: Poisson 95%. ${curve
        .filter((c) => c.prob === 0)
        .map((c) => `${c.fix} at 0: ${c.races} races in ${formatNumber(c.iterations)} iterations`)
        .join("; ")}.`,
      svg: lineChart({
        title: "Race rate vs host preemption",
        xLabel: "probability that the host preempts the walker at the preemption point",
        yLabel: "races per million",
        linearX: true,
        series: curveFixes.map(
          (fix): Series => ({
            name: fix,
            color: colorFor(fix),
            points: curve
              .filter((c) => c.fix === fix)
              .map((c) => ({ x: c.prob, y: c.racesPerMillion, rme: c.racesPerMillionRme })),
          }),
        ),
      }),
    });
  }
  const racy = res.racePower.filter((r) => r.firstRaceMs !== null);
  out.push({
    id: "first-race",
    caption: `Time to the first race over independent trials (lockstep, default delays); each step is one trial. A curve that stays below 1 had trials with no race within ${racy[0]?.trialLimitMs ?? "the"} ms.`,
    svg: ecdfChart({
      title: "Time to first race (empirical CDF)",
      xLabel: "ms to the first race (log)",
      series: racy.map((r) => ({
        name: `${r.fix}, ${r.cpus} CPUs`,
        color: colorFor(r.fix),
        values: r.trialTimesMs.filter((t): t is number => t !== null),
        total: r.trials,
      })),
    }),
  });
  return out;
}

/** "ipi p99" and "ipi-skip, 3 CPUs" take their fix's colour. */
function colorFor(name: string): string {
  return colorOf(name.split(/[ ,]/)[0]);
}

export function htmlTable(t: Table): string {
  const head = t.head.map((h) => `<th>${escapeXml(h)}</th>`).join("");
  const rows = t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<h2>${escapeXml(t.title)}</h2>\n<p class="note">${escapeXml(t.note)}</p>\n<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div>`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;max-width:1180px;margin:2em auto;padding:0 1em;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.env{color:#555;font-size:.92em}.note{color:#555;font-size:.9em;margin:.3em 0 .6em}
ul.head li{margin:.25em 0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(540px,1fr));gap:18px}
figure{margin:0;border:1px solid #e5e5e5;border-radius:6px;padding:8px;background:#fff}
figure svg{width:100%;height:auto;display:block}figcaption{font-size:.85em;color:#555;margin-top:4px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.85em;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f6f6f6;font-weight:600}td:first-child,th:first-child{text-align:left}
.foot{color:#666;font-size:.85em;margin-top:2em}
`;

/** `extra`: more HTML after the tables (the report command's family section). */
export function renderHtml(res: BenchResults, extra = ""): string {
  const figs = charts(res)
    .map(
      (c) =>
        `<figure id="${c.id}">\n${c.svg}\n<figcaption>${escapeXml(c.caption)}</figcaption>\n</figure>`,
    )
    .join("\n");
  const tables = resultTables(res).map(htmlTable).join("\n");
  const heads = headlines(res)
    .map((h) => `<li>${escapeXml(h)}</li>`)
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>gupstress bench: what each fix costs</title>
<style>${CSS}</style>
</head>
<body>
<h1>GUP-fast vs ${escapeXml(res.settings.mutator ?? "THP collapse")}: what each fix costs</h1>
<p class="env">${escapeXml(environmentLine(res))}</p>
<ul class="head">
${heads}
</ul>
<div class="grid">
${figs}
</div>
${tables}
${extra}
<p class="foot">Emulated CPUs are Node worker threads on a SharedArrayBuffer page table; an emulated IPI is a request word plus a futex wake (about 10 to 30 us when the target sleeps), not an APIC IPI (about 1 to 3 us on a modern Xeon). Compare shapes and ratios with the kernel, not absolute times. Every ± is a relative 95% margin of error. Generated by gupstress (npm run report); bench wall time ${(res.wallMs / 1000).toFixed(1)} s.</p>
</body>
</html>
`;
}
