// The human summary of a stress run: the outcome histogram with grades,
// rates, time to the first race, and the first race drawn as an interleaving.

import type { StressResult } from "../run/stress.js";
import { fixDecl, scenarioByName } from "../scenarios/index.js";
import { drawInterleaving } from "./interleaving.js";

const n = (x: number): string => Math.round(x).toLocaleString("en-US");

/** The window's calibration and the load around the run, in one line. */
export function windowLine(r: StressResult): string {
  const c = r.calibration;
  const load = `load average ${c.load.before.toFixed(2)} before, ${c.load.after.toFixed(2)} after`;
  const spin =
    c.spinsPerNs.length > 0
      ? `, spin unit ${Math.min(...c.spinsPerNs).toFixed(2)} to ${Math.max(...c.spinsPerNs).toFixed(2)} per ns`
      : "";
  if (c.adapt === null) return `delays as given (no adapting)${spin}; ${load}`;
  const a = c.adapt;
  const tries = a.tries
    .map(
      (t) =>
        `x${t.scale}${t.sleep ? " slept" : ""} ${t.trials > 0 ? ((t.hits / t.trials) * 1000).toFixed(1) : "-"}`,
    )
    .join(", ");
  const slept = (c.sleptDelays ?? []).reduce((x, y) => x + y, 0);
  return (
    `walkers' delays x${a.scale}${a.sleep ? ", slept" : ""} (window hits per 1000 trials: ${tries || "not measured yet"}` +
    `${a.recalibrations > 0 ? `; re-measured ${a.recalibrations} times` : ""}${slept > 0 ? `; ${slept} ${slept === 1 ? "delay" : "delays"} slept` : ""})${spin}; ${load}`
  );
}

export function formatSummary(r: StressResult): string {
  const out: string[] = [];
  const scenario = scenarioByName(r.scenario);
  const fix = fixDecl(scenario, r.fix);
  out.push(
    `gupstress ${r.scenario}: fix ${r.fix}${fix ? ` (${fix.summary})` : ""}`,
    `  mode ${r.mode}, ${r.cpus} CPUs (CPU 0 ${scenario.roles.mutator}, ${r.cpus - 1} ${scenario.roles.walker}), ${r.regions} regions x ${r.ptes} ptes, seed ${r.seed}`,
    `  ran ${(r.durationMs / 1000).toFixed(2)} s: ${n(r.iterations)} iterations (${n(r.iterationsPerSec)}/s), ` +
      `${n(r.gupCalls)} GUP-fast calls, ${n(r.mutatorOps.total)} mutator operations (${n(r.mutatorOps.committed)} committed, ${n(r.mutatorOps.followUps)} follow-ups)`,
  );
  out.push(`  ${windowLine(r)}`);
  if (r.ipi.broadcasts > 0) {
    const per = r.ipi.waitUsTotal / r.ipi.broadcasts;
    out.push(
      `  IPIs: ${n(r.ipi.broadcasts)} broadcasts, ${n(r.ipi.handlerEntries)} handler entries, ` +
        `${per.toFixed(2)} us waited per broadcast (emulated: a futex wake, not an APIC IPI)`,
    );
  }
  out.push("", "  outcome                  count  grade                   meaning");
  for (const [key, o] of Object.entries(r.outcomes)) {
    if (o.count === 0 && key === "undeclared") continue;
    out.push(`  ${key.padEnd(22)}${n(o.count).padStart(9)}  ${o.grade.padEnd(22)}  ${o.text}`);
  }
  for (const u of r.undeclared) out.push(`    undeclared: ${u}`);
  out.push("");
  if (r.races > 0) {
    const kinds = Object.entries(r.outcomes)
      .filter(([, o]) => o.tag === "race" && o.count > 0)
      .map(([k, o]) => `${n(o.count)} ${k}`)
      .join(", ");
    out.push(
      `  RACE: ${kinds} (${n(r.racesPerMillion)} per million iterations), ` +
        `${n(r.confirmed)} confirmed by data divergence`,
      `  first race after ${r.firstRaceMs?.toFixed(1)} ms`,
    );
  } else {
    out.push(
      `  no race in ${n(r.iterations)} iterations` +
        (r.upperBound !== null
          ? ` (95% upper bound on the race rate: ${r.upperBound.toExponential(2)} per iteration)`
          : ""),
    );
  }
  if (r.firstRace) {
    const fr = r.firstRace;
    out.push(
      "",
      `  First race: region ${fr.region}, page ${fr.index}, frame ${fr.frame}: CPU ${fr.cpu} returned it ` +
        "and still pins it, but the address no longer maps it.",
      "",
      fr.trace.length > 0
        ? drawInterleaving(fr.trace, scenario, { frame: fr.frame })
        : "  (no trace: run without --no-trace to draw the interleaving)",
    );
  }
  if (r.aborted) out.push("", `  ABORTED: ${r.aborted}`);
  for (const f of r.faults) {
    out.push(`    CPU ${f.cpu} (${f.role}), last step ${f.lastStep}: ${f.message}`);
    if (f.stack)
      out.push(
        ...f.stack
          .split("\n")
          .slice(0, 6)
          .map((l) => `      ${l}`),
      );
  }
  if (r.interrupted) out.push("", `  interrupted by ${r.interrupted}: results so far`);
  const e = r.environment;
  out.push(
    "",
    `  node ${e.node} (V8 ${e.v8}), ${e.cpuModel}, ${e.cores} cores, ${e.platform}` +
      (e.commit ? `, gupstress ${e.commit}` : ""),
  );
  return out.join("\n");
}

/** One row per run for the matrix of fixes. */
export function formatMatrix(
  rows: { result: StressResult; expect: string; ok: boolean; verdict?: string }[],
): string {
  const w = Math.max(10, ...rows.map((x) => x.result.fix.length));
  const out = [
    `  ${"fix".padEnd(w)} expect  iterations    it/s     races  per million  first race  verdict`,
  ];
  for (const { result: r, expect, ok, verdict } of rows) {
    out.push(
      `  ${r.fix.padEnd(w)} ${expect.padEnd(6)}${n(r.iterations).padStart(12)}${n(r.iterationsPerSec).padStart(8)}` +
        `${n(r.races).padStart(10)}${n(r.racesPerMillion).padStart(13)}` +
        `${(r.firstRaceMs === null ? "-" : `${r.firstRaceMs.toFixed(1)} ms`).padStart(12)}  ${verdict ?? (ok ? "as expected" : "UNEXPECTED")}`,
    );
  }
  return out.join("\n");
}
