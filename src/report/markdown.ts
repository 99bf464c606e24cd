// The benchmark results as tables (shared by the Markdown summary and the HTML
// report) and as a Markdown document. Pure functions of a BenchResults.

import { type BenchResults, partsOf, type Rme, type VariantResult } from "./results.js";
import { formatNumber } from "./svg.js";

/** How every ± of the cost tables is computed (docs/bench.md, "Margins of error"). */
export const MARGINS =
  "Each figure: the median over rounds of the per-round figure (rates, GUP-fast quantiles, ratios paired with the baseline in the same round), or for the mutator's operations (one collapse or free, its IPI wait, its blocked time) the quantile of all rounds' samples pooled. ± is the longer side of its 95% interval, relative: order statistics of the rounds for a median, a bootstrap that resamples whole rounds for a pooled quantile, so both carry the round-to-round drift; none below 6 rounds (\"0\" with no ± where the interval is not 0 to 0).";

export interface Table {
  title: string;
  note: string;
  head: string[];
  rows: string[][];
}

/** "1.45M ±3.1%"; the margin is left out when it cannot be computed. */
export function withRme(value: number | null | undefined, rme: Rme | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "n/a";
  const v = formatNumber(value);
  // 0 in every round (a fix that never waits): exact, no margin to show.
  if (value === 0 && rme === 0) return v;
  return rme === null || rme === undefined || !Number.isFinite(rme) ? v : `${v} ±${formatRme(rme)}`;
}

export function formatRme(rme: number): string {
  return `${rme < 10 ? rme.toFixed(1) : Math.round(rme)}%`;
}

function pct(x: number, rme: Rme): string {
  if (!Number.isFinite(x)) return "n/a";
  const v = x === 0 ? "0" : x < 1e-4 ? x.toExponential(1) : `${(x * 100).toPrecision(2)}%`;
  return rme === null || !Number.isFinite(rme) ? v : `${v} ±${formatRme(rme)}`;
}

function ratio(x: number, rme: Rme): string {
  if (!Number.isFinite(x)) return "n/a";
  const v = `${x < 10 ? x.toFixed(2) : formatNumber(x)}x`;
  return rme === null || !Number.isFinite(rme) ? v : `${v} ±${formatRme(rme)}`;
}

function variantRow(v: VariantResult, withCpus: boolean, baseline: string): string[] {
  const r = v.rme;
  const row = [
    v.fix,
    withRme(v.gupCallsPerSec, r.gupCallsPerSec),
    v.fix === baseline ? "1" : ratio(v.vsNone.gupCallsPerSec, r.vsNone.gupCallsPerSec),
    withRme(v.gupLatencyNs.p50, r.gupLatencyNs.p50),
    withRme(v.gupLatencyNs.p99, r.gupLatencyNs.p99),
    withRme(v.collapseLatencyUs.p50, r.collapseLatencyUs.p50),
    withRme(v.collapseLatencyUs.p99, r.collapseLatencyUs.p99),
    v.ipiWaitUs ? withRme(v.ipiWaitUs.p50, r.ipiWaitUs?.p50) : "-",
    v.ipiWaitUs ? withRme(v.ipiWaitUs.p99, r.ipiWaitUs?.p99) : "-",
    pct(v.backoffRate, r.backoffRate),
    pct(v.fallbackRate, r.fallbackRate),
    withRme(v.collapsesPerSec, r.collapsesPerSec),
    v.ipiWaitUs ? withRme(v.ipiHandlerEntriesPerSec, r.ipiHandlerEntriesPerSec) : "-",
  ];
  return withCpus ? [String(v.cpus), ...row] : row;
}

/** The mutator's operation in the tables' words: "collapse", "THP split", "table free". */
export function opName(res: Pick<BenchResults, "settings">): string {
  return res.settings.mutator ?? "collapse";
}

/** The re-check the summaries name: G6 (the pmd) or GR (the compound head). */
export function recheckName(res: Pick<BenchResults, "settings">): string {
  return res.settings.recheckKind === "head" ? "head re-check (GR, c24d37322548)" : "re-check (G6)";
}

const variantHead = (op: string) => [
  "fix",
  "GUP calls/s per CPU",
  "vs none",
  "GUP p50 ns",
  "GUP p99 ns",
  `${op} p50 us`,
  `${op} p99 us`,
  "IPI wait p50 us",
  "IPI wait p99 us",
  "back-off rate",
  "fallback rate",
  `${op}s/s`,
  "IPI entries/s per GUP CPU",
];

/**
 * What the mutator waits for per trial operation (one table freed, or one
 * collapse), kept apart from what a GUP-fast call costs: operations are rare
 * in a real kernel (khugepaged: a few per 10 s), calls are not.
 */
function mutatorWaitTables(res: BenchResults): Table[] {
  const rows = res.scaling.filter((v) => v.mutatorWaitUs !== undefined);
  if (rows.length === 0) return [];
  const base = partsOf(res).baseline;
  return [
    {
      title: "Mutator wait per operation, and cost per GUP-fast call",
      note: `The wait is the time the mutator blocks in one ${opName(res)} (${res.settings.scenario ?? "gup-vs-collapse"}: IPI acks or a grace period; 0 for a fix that never waits), and the ${opName(res)} column the whole operation: costs per ${opName(res)}. The GUP columns are per call. An emulated IPI costs a futex wake, not an APIC IPI. CPU and bystander counts past ${res.environment.cores} threads are oversubscribed: a target may be descheduled when the IPI arrives.`,
      head: [
        "CPUs",
        "bystanders",
        "fix",
        "wait p50 us",
        "wait p99 us",
        `${opName(res)} p50 us`,
        `${opName(res)} p99 us`,
        `${opName(res)}s/s`,
        "GUP p50 ns",
        "GUP p50 vs none",
        "IPI entries/s per GUP CPU",
      ],
      rows: rows.map((v) => [
        String(v.cpus),
        String(v.bystanders ?? 0),
        v.fix,
        withRme(v.mutatorWaitUs?.p50, v.rme.mutatorWaitUs?.p50),
        withRme(v.mutatorWaitUs?.p99, v.rme.mutatorWaitUs?.p99),
        withRme(v.collapseLatencyUs.p50, v.rme.collapseLatencyUs.p50),
        withRme(v.collapseLatencyUs.p99, v.rme.collapseLatencyUs.p99),
        withRme(v.collapsesPerSec, v.rme.collapsesPerSec),
        withRme(v.gupLatencyNs.p50, v.rme.gupLatencyNs.p50),
        v.fix === base ? "1" : ratio(v.vsNone.gupLatencyP50, v.rme.vsNone.gupLatencyP50),
        withRme(v.ipiHandlerEntriesPerSec, v.rme.ipiHandlerEntriesPerSec),
      ]),
    },
  ];
}

/** Did the suite run its CPU counts with bystanders too? */
const withBystanders = (res: BenchResults) => (res.settings.bystanders ?? [0]).length > 1;

export function resultTables(res: BenchResults): Table[] {
  const s = res.settings;
  const cpus = res.variants[0]?.cpus ?? 2;
  const micro = res.micro;
  const tables: Table[] = [
    {
      title: `Cost per fix (${cpus} CPUs: 1 ${opName(res)} + ${cpus - 1} GUP-fast)`,
      note: `freerun, tracing and delay points off, ${s.rounds} interleaved rounds of ${s.runMs} ms${s.warmMs ? ` (each counted after a ${s.warmMs} ms warm-up: a pool thread may have run another role or fix just before)` : ""}, same seeds. ${MARGINS}`,
      head: variantHead(opName(res)),
      rows: res.variants.map((v) => variantRow(v, false, partsOf(res).baseline)),
    },
    {
      title: "Scaling with CPU count",
      note: `CPU counts past ${res.environment.cores} are oversubscribed (more CPU threads than cores): a target thread may be descheduled when the IPI arrives, as a preempted vCPU is.`,
      head: withBystanders(res)
        ? ["CPUs", "bystanders", ...variantHead(opName(res))]
        : ["CPUs", ...variantHead(opName(res))],
      rows: res.scaling.map((v) => {
        const row = variantRow(v, true, partsOf(res).baseline);
        return withBystanders(res) ? [row[0], String(v.bystanders ?? 0), ...row.slice(1)] : row;
      }),
    },
    ...mutatorWaitTables(res),
    {
      title: "The floor: harness cost per GUP-fast walk",
      note: `single thread, tinybench, ${micro.passes} passes, one walk = ${micro.ptesPerWalk} pages pinned then unpinned; ratios paired per pass.`,
      head: ["walk", "ns per call", "ratio"],
      rows: [
        [
          "floor: hand-written Atomics only",
          withRme(micro.floorNsPerCall.value, micro.floorNsPerCall.rme),
          "1",
        ],
        [
          "floor plus the re-check (one more load per page: G6's pmd, or GR's compound head)",
          withRme(micro.floorRecheckNsPerCall.value, micro.floorRecheckNsPerCall.rme),
          `${ratio(micro.floorRecheckOverhead.value, micro.floorRecheckOverhead.rme)} floor`,
        ],
        [
          `harness: the drivers' walk loop, fix ${partsOf(res).baseline}, tracing off`,
          withRme(micro.harnessNsPerCall.value, micro.harnessNsPerCall.rme),
          `${ratio(micro.harnessOverhead.value, micro.harnessOverhead.rme)} floor`,
        ],
        [
          `harness, fix ${partsOf(res).recheck ?? "with G6"} (its re-check added)`,
          withRme(micro.recheckNsPerCall.value, micro.recheckNsPerCall.rme),
          `${ratio(micro.recheckOverhead.value, micro.recheckOverhead.rme)} ${partsOf(res).baseline}`,
        ],
        [
          `harness, fix ${partsOf(res).baseline}, tracing on`,
          withRme(micro.tracedNsPerCall.value, micro.tracedNsPerCall.rme),
          `${ratio(micro.traceOverhead.value, micro.traceOverhead.rme)} untraced`,
        ],
      ],
    },
    {
      title: "Race-finding power",
      note: `lockstep, default delay points, tracing on; rate from one ${s.raceRunMs} ms run; time to first race over untilRace trials (a trial without a race by its limit is censored).`,
      head: [
        "fix",
        "CPUs",
        "iterations",
        "races",
        "races per million",
        "first race median ms",
        "first race p90 ms",
        "trials (censored)",
        "95% bound, zero hits",
      ],
      rows: res.racePower.map((r) => [
        r.fix,
        String(r.cpus),
        formatNumber(r.iterations),
        String(r.races),
        r.sampleTooSmall === true
          ? "sample too small"
          : withRme(r.racesPerMillion, r.racesPerMillionRme),
        r.firstRaceMs
          ? r.firstRaceMs.median === null
            ? `> ${r.trialLimitMs}`
            : withRme(r.firstRaceMs.median, r.firstRaceMsRme?.median)
          : "-",
        r.firstRaceMs
          ? r.firstRaceMs.p90 === null
            ? `> ${r.trialLimitMs}`
            : withRme(r.firstRaceMs.p90, r.firstRaceMsRme?.p90)
          : "-",
        r.trials > 0 ? `${r.trials} (${r.censored})` : "-",
        r.upperBound === null ? "-" : `p < ${r.upperBound.toExponential(1)} per iteration`,
      ]),
    },
  ];
  const curve = res.preemptCurve ?? [];
  if (curve.length > 0) {
    tables.push({
      title: "Race rate against host preemption",
      note: `lockstep, 2 CPUs, default delays with the default host-preemption probability scaled from 0 to the default; a fix whose flush skips preempted vCPUs (kvm-pv-flush) races only through them.${curve
        .filter((c) => c.prob === 0 && c.races > 0)
        .map(
          (c) =>
            ` ${c.fix} raced ${c.races} times with no preemption at all: its flush missed a running walker, which the model says cannot happen (a bug to chase).`,
        )
        .join("")}`,
      head: ["fix", "preemption probability", "iterations", "races", "races per million"],
      rows: curve.map((c) => [
        c.fix,
        c.prob.toFixed(3),
        formatNumber(c.iterations),
        String(c.races),
        withRme(c.racesPerMillion, c.racesPerMillionRme),
      ]),
    });
  }
  return tables;
}

export function environmentLine(res: BenchResults): string {
  const e = res.environment;
  const load = res.loadAvg
    ? `, load average ${res.loadAvg.before[0].toFixed(2)} before, ${res.loadAvg.after[0].toFixed(2)} after`
    : "";
  return `node ${e.node} (V8 ${e.v8}), ${e.cpuModel}, ${e.cores} cores, ${e.platform}, commit ${e.commit ?? "unknown"}, ${e.date}${res.quick ? ", --quick" : ""}${load}`;
}

function mdCell(s: string): string {
  return s.replace(/\|/g, "\\|");
}

export function markdownTable(t: Table): string {
  const lines = [
    `| ${t.head.map(mdCell).join(" | ")} |`,
    `| ${t.head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`),
  ];
  return lines.join("\n");
}

/** Headline sentences: the figures a reader wants first. */
export function headlines(res: BenchResults): string[] {
  const by = (fix: string) => res.variants.find((v) => v.fix === fix);
  const out: string[] = [];
  const parts = partsOf(res);
  const base = parts.baseline;
  const rc = parts.recheck === null ? undefined : by(parts.recheck);
  const ipi = parts.ipi === null ? undefined : by(parts.ipi);
  const m = res.micro;
  out.push(
    `Harness overhead against the floor: ${ratio(res.harnessOverhead, res.harnessOverheadRme)} (${withRme(m.harnessNsPerCall.value, m.harnessNsPerCall.rme)} ns vs ${withRme(res.floorNsPerCall, res.floorNsPerCallRme)} ns per ${m.ptesPerWalk}-page walk).`,
  );
  out.push(
    `The ${recheckName(res)} costs ${ratio(m.floorRecheckOverhead.value, m.floorRecheckOverhead.rme)} per walk at the floor and ${ratio(m.recheckOverhead.value, m.recheckOverhead.rme)} in the harness, single-threaded` +
      (rc
        ? `; threaded, ${rc.fix} runs at ${ratio(rc.vsNone.gupCallsPerSec, rc.rme.vsNone.gupCallsPerSec)} ${base}'s GUP-fast throughput.`
        : "."),
  );
  if (ipi?.ipiWaitUs) {
    const scal = res.scaling.filter(
      (v) => v.fix === ipi.fix && v.ipiWaitUs && (v.bystanders ?? 0) === 0,
    );
    const range = scal
      .map((v) => `${formatNumber(v.ipiWaitUs?.p50 ?? Number.NaN)} us at ${v.cpus}`)
      .join(", ");
    out.push(
      `The IPI broadcast (emulated: a futex wake, not an APIC IPI) waits p50 ${range} CPUs; ${opName(res)} with the IPI takes ${ratio(ipi.vsNone.collapseLatencyP50, ipi.rme.vsNone.collapseLatencyP50)} ${base}'s p50 at ${ipi.cpus} CPUs.`,
    );
  }
  if (res.variants.length > 0 && res.settings.mutator !== undefined) {
    const at = res.variants[0].cpus;
    out.push(
      `One ${opName(res)} (p50, ${at} CPUs), per fix: ${res.variants.map((v) => `${v.fix} ${withRme(v.collapseLatencyUs.p50, v.rme.collapseLatencyUs.p50)} us${v.mutatorWaitUs !== undefined && v.mutatorWaitUs.p50 > 0 ? ` (blocked ${withRme(v.mutatorWaitUs.p50, v.rme.mutatorWaitUs?.p50)})` : ""}`).join(", ")}.`,
    );
  }
  for (const r of res.racePower.filter((x) => x.firstRaceMs)) {
    out.push(
      `${r.fix} (${r.cpus} CPUs): ${r.sampleTooSmall === true ? "rate unknown (sample too small)" : `${formatNumber(r.racesPerMillion)} races per million iterations`}, first race after ${r.firstRaceMs?.median === null ? `> ${r.trialLimitMs}` : formatNumber(r.firstRaceMs?.median ?? Number.NaN)} ms (median of ${r.trials}).`,
    );
  }
  return out;
}

export function markdownSummary(res: BenchResults): string {
  const parts = [
    "# gupstress bench: what each fix costs",
    "",
    environmentLine(res),
    "",
    ...headlines(res).map((h) => `- ${h}`),
    "",
  ];
  for (const t of resultTables(res))
    parts.push(`## ${t.title}`, "", t.note, "", markdownTable(t), "");
  if ((res.retries ?? []).length > 0)
    parts.push(
      `Cost runs run again after a CPU stalled (${res.retries?.length}): ${res.retries?.join("; ")}.`,
      "",
    );
  parts.push(
    `Emulated IPIs are futex wakes between worker threads (about 10 to 30 us when the target sleeps), not APIC IPIs (about 1 to 3 us): compare shapes and ratios with the kernel, not absolute times. Bench wall time ${(res.wallMs / 1000).toFixed(1)} s; pool start cold ${formatNumber(res.pool.coldStartupMs)} ms, warm ${formatNumber(res.pool.warmStartupMs)} ms.`,
    "",
  );
  return parts.join("\n");
}
