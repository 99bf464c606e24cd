// The family of scenarios in the report: every scenario x fix with the
// explorer's verdict (deterministic, seconds), the bench's race rate and cost
// where the bench measured that scenario, and "why both": for each protection
// a clean fix relies on, the scenario where taking it away races, with the
// explorer's counterexample drawn. Generic over SCENARIOS: protections are
// read from the fixes' knobs, never from names.

import { DEFAULT_EXPLORE, type ExploreReport, exploreAsync } from "../explore/explore.js";
import { type Fix, KNOB_DEFAULTS, type Knobs } from "../kernel/fixes.js";
import { DEFAULT_SCENARIO, resolveFix, SCENARIOS } from "../scenarios/index.js";
import type { Scenario } from "../scenarios/scenario.js";
import { drawInterleaving } from "./interleaving.js";
import { markdownTable, type Table } from "./markdown.js";
import { type BenchResults, partsOf } from "./results.js";
import { escapeXml, formatNumber } from "./svg.js";

export interface FamilyRow {
  scenario: string;
  fix: string;
  expect: "race" | "clean";
  verdict: "race" | "clean";
  explored: number;
  complete: boolean;
  ms: number;
  /** from the bench, when it measured this scenario and fix; else null */
  racesPerMillion: number | null;
  /** GUP-fast throughput against the baseline, and the mutator's p50, from the bench; else null */
  cost: string | null;
}

/** A protection a clean fix relies on: taking it away (one knob) races in a scenario. */
export interface Needed {
  /** the knob turned off, as "knob=value" */
  removed: string;
  scenario: string;
  /** the clean fix it was taken from, and the weakened fix that races */
  fix: string;
  weakened: string;
  replay: string;
  drawing: string;
}

/** A clean fix whose protections overlap: it stays clean with any one of them taken away. */
export interface Overlap {
  scenario: string;
  fix: string;
  removed: string[];
}

export interface FamilyReport {
  ptes: number;
  scenarios: string[];
  rows: FamilyRow[];
  /** the first clean fix per protection and scenario that races without it */
  needed: Needed[];
  /** every protection some clean fix has (in the order first seen) */
  protections: string[];
  overlaps: Overlap[];
}

/**
 * The protections of a fix: each boolean knob it turns on, and each enum knob
 * it moves off its default, each with the value that takes it away. Whether
 * one is really a protection is the explorer's word (its removal races).
 */
export function protectionsOf(fix: Fix): string[] {
  const out: string[] = [];
  for (const k of Object.keys(KNOB_DEFAULTS) as (keyof Knobs)[]) {
    const v = fix[k];
    if (v === true) out.push(`${k}=false`);
    else if (typeof v === "string" && v !== KNOB_DEFAULTS[k]) out.push(`${k}=${KNOB_DEFAULTS[k]}`);
  }
  return out;
}

/** The explorer's part per ptes, for the default scenarios: deterministic, so one process computes it once. */
const explored = new Map<number, FamilyReport>();

/** Null when `signal` stopped it (Ctrl-C): the explorer gives the event loop a turn between its searches. */
export async function familyReport(
  res: BenchResults | null,
  opt: { ptes?: number; scenarios?: readonly Scenario[]; signal?: AbortSignal } = {},
): Promise<FamilyReport | null> {
  const ptes = opt.ptes ?? DEFAULT_EXPLORE.ptes;
  const memo = opt.scenarios === undefined;
  const known = memo ? explored.get(ptes) : undefined;
  const f = known ?? (await exploreFamily(ptes, opt.scenarios ?? SCENARIOS, opt.signal));
  if (f === null) return null;
  if (memo) explored.set(ptes, f);
  const benched = res === null ? null : (res.settings.scenario ?? DEFAULT_SCENARIO);
  return {
    ...f,
    rows: f.rows.map((r) => ({ ...r, ...benchFigures(res, benched === r.scenario, r.fix) })),
  };
}

async function exploreFamily(
  ptes: number,
  scenarios: readonly Scenario[],
  signal: AbortSignal | undefined,
): Promise<FamilyReport | null> {
  const run = (scenario: Scenario, fix: string, cpus: number): Promise<ExploreReport | null> =>
    exploreAsync({ ...DEFAULT_EXPLORE, scenario: scenario.name, fix, cpus, ptes }, signal);
  const rows: FamilyRow[] = [];
  const needed: Needed[] = [];
  const protections: string[] = [];
  const overlaps: Overlap[] = [];
  for (const scenario of scenarios) {
    for (const decl of scenario.fixes) {
      const r = await run(scenario, decl.name, decl.minCpus);
      if (r === null) return null;
      rows.push({
        scenario: scenario.name,
        fix: decl.name,
        expect: decl.expect,
        verdict: r.verdict === "race" ? "race" : "clean",
        explored: r.explored,
        complete: r.complete,
        ms: r.ms,
        racesPerMillion: null,
        cost: null,
      });
      if (r.verdict === "race") continue;
      const removals = protectionsOf(resolveFix(scenario, decl.name));
      let raced = 0;
      for (const removed of removals) {
        if (!protections.includes(removed)) protections.push(removed);
        const weakened = `${decl.name}~${removed}`;
        const w = await run(scenario, weakened, decl.minCpus);
        if (w === null) return null;
        const cex = w.counterexample;
        if (w.verdict !== "race" || cex === null) continue;
        raced++;
        if (needed.some((n) => n.removed === removed && n.scenario === scenario.name)) continue;
        needed.push({
          removed,
          scenario: scenario.name,
          fix: decl.name,
          weakened,
          replay: cex.replay,
          drawing: drawInterleaving(cex.trace, scenario, {
            frame: cex.frame >= 0 ? cex.frame : undefined,
          }),
        });
      }
      if (raced === 0 && removals.length > 1)
        overlaps.push({ scenario: scenario.name, fix: decl.name, removed: removals });
    }
  }
  return { ptes, scenarios: scenarios.map((x) => x.name), rows, needed, protections, overlaps };
}

function benchFigures(
  res: BenchResults | null,
  measured: boolean,
  fix: string,
): Pick<FamilyRow, "racesPerMillion" | "cost"> {
  if (res === null || !measured) return { racesPerMillion: null, cost: null };
  const power = res.racePower.find((p) => p.fix === fix && p.sampleTooSmall !== true);
  const v = res.variants.find((x) => x.fix === fix);
  const base = partsOf(res).baseline;
  const cost =
    v === undefined
      ? null
      : `${fix === base ? "1" : `${v.vsNone.gupCallsPerSec.toFixed(2)}x`} ${base}'s GUP-fast calls/s; mutator p50 ${formatNumber(v.collapseLatencyUs.p50)} us${v.ipiWaitUs ? `, IPI wait p50 ${formatNumber(v.ipiWaitUs.p50)} us` : ""}`;
  return { racesPerMillion: power?.racesPerMillion ?? null, cost };
}

export function familyTable(f: FamilyReport): Table {
  return {
    title: "The family: every scenario x fix",
    note: `verdict: the explorer over every interleaving (2 CPUs unless a fix needs more, ${f.ptes} ptes, every walk range); races per million and cost come from the bench, for the scenario it measured (run 'gupstress bench --scenario NAME' for another).`,
    head: ["scenario", "fix", "verdict", "expected", "interleavings", "races per million", "cost"],
    rows: f.rows.map((r) => [
      r.scenario,
      r.fix,
      `${r.verdict}${r.complete ? "" : " (incomplete)"}`,
      r.expect,
      formatNumber(r.explored),
      r.racesPerMillion === null ? "-" : formatNumber(r.racesPerMillion),
      r.cost ?? "-",
    ]),
  };
}

/** Protection x scenario: which clean fix races without it there. */
export function whyBothTable(f: FamilyReport): Table {
  return {
    title: "Why both: each protection, and the scenario that needs it",
    note: "Each protection a clean fix has (a knob it turns on), taken away one at a time; a cell names the clean fix that races without it in that scenario (the explorer's verdict), '-' where no clean fix there does.",
    head: ["protection taken away", ...f.scenarios],
    rows: f.protections.map((p) => [
      p,
      ...f.scenarios.map((s) => {
        const n = f.needed.find((x) => x.removed === p && x.scenario === s);
        return n === undefined ? "-" : `needed: ${n.weakened} races`;
      }),
    ]),
  };
}

function overlapText(o: Overlap): string {
  return `In ${o.scenario}, ${o.fix} stays clean with any one of ${o.removed.join(", ")} taken away: its protections overlap there.`;
}

/** One drawing per protection: the first scenario that needs it. */
function drawn(f: FamilyReport): { n: Needed; by: string[] }[] {
  return f.protections.flatMap((p) => {
    const all = f.needed.filter((n) => n.removed === p);
    return all.length === 0 ? [] : [{ n: all[0], by: all.map((x) => x.scenario) }];
  });
}

function drawnTitle(d: { n: Needed; by: string[] }): string {
  return `${d.n.removed}: needed by ${d.by.join(", ")}; drawn: ${d.n.weakened} in ${d.n.scenario}`;
}

/** The Markdown section: the scenario x fix table, then "why both" with a counterexample drawn per protection. */
export function familyMarkdown(f: FamilyReport): string {
  const parts: string[] = [];
  for (const t of [familyTable(f), whyBothTable(f)])
    parts.push(`## ${t.title}`, "", t.note, "", markdownTable(t), "");
  for (const o of f.overlaps) parts.push(`- ${overlapText(o)}`);
  if (f.overlaps.length > 0) parts.push("");
  for (const d of drawn(f)) {
    parts.push(
      `### ${drawnTitle(d)}`,
      "",
      "```",
      d.n.drawing,
      "```",
      "",
      `replay: \`gupstress explore --replay ${d.n.replay}\``,
      "",
    );
  }
  return parts.join("\n");
}

function htmlTableOf(t: Table): string {
  const head = t.head.map((h) => `<th>${escapeXml(h)}</th>`).join("");
  const body = t.rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeXml(c)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<h2>${escapeXml(t.title)}</h2>
<p>${escapeXml(t.note)}</p>
<table><thead><tr>${head}</tr></thead><tbody>
${body}
</tbody></table>`;
}

/** The same section as HTML. */
export function familyHtml(f: FamilyReport): string {
  const overlaps = f.overlaps.map((o) => `<li>${escapeXml(overlapText(o))}</li>`).join("\n");
  const drawings = drawn(f)
    .map(
      (d) =>
        `<h3>${escapeXml(drawnTitle(d))}</h3>\n<pre>${escapeXml(d.n.drawing)}</pre>\n<p>replay: <code>gupstress explore --replay ${escapeXml(d.n.replay)}</code></p>`,
    )
    .join("\n");
  return `${htmlTableOf(familyTable(f))}
${htmlTableOf(whyBothTable(f))}
${overlaps === "" ? "" : `<ul>\n${overlaps}\n</ul>`}
${drawings}`;
}
