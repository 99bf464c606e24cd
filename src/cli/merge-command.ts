// gupstress merge FILES...: combine the campaign records (--out FILE.jsonl) of
// many shards into one verdict per scenario x fix x mode, with the same rule
// and exit code as stress (0 as expected, 1 not, 4 inconclusive; 3 when a
// shard hit a harness fault).

import { readFileSync } from "node:fs";
import { type Counted, type Judgement, judge } from "../run/verdict.js";
import { expectationOf, fixParts, scenarioByName } from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, UsageError, usageExit } from "./args.js";
import type { Io } from "./io.js";
import type { CampaignRecord, FirstRaceInfo } from "./record.js";

const FLAGS: FlagSpec[] = [
  { name: "json", kind: "bool", help: "print one JSON object on stdout instead of the table" },
  {
    name: "force",
    kind: "bool",
    help: "combine records from different gupstress versions or configurations anyway",
  },
  { name: "help", kind: "bool", help: "this help" },
];

export function mergeHelp(): string {
  return [
    "usage: gupstress merge [flags] FILE.jsonl...      (npm run -s merge -- FILES)",
    "",
    "Reads the records that stress, soak and explore append with --out, and combines",
    "them per scenario x fix x mode: runs, iterations, races, window hits, the 95% upper",
    "bound on the race rate when no race was seen (3/N), and every race with its seed and",
    "replay information. Each group is judged with stress's rule. A truncated last line",
    "(a shard killed while writing) is skipped with a note.",
    "",
    flagHelp(FLAGS),
    "",
    "exit: 0 every group as expected, 1 one not as expected, 2 usage error (records from",
    "      different versions or configurations without --force), 3 a shard hit a harness",
    "      fault, 4 inconclusive (a clean fix without enough window hits)",
  ].join("\n");
}

interface Located {
  rec: CampaignRecord;
  where: string;
}

export interface MergedGroup {
  scenario: string;
  fix: string;
  mode: string;
  expect: "race" | "clean";
  runs: number;
  files: string[];
  iterations: number;
  races: number;
  windowHits: number;
  forbidden: number;
  minWindowHits: number;
  durationMs: number;
  /** 95% upper bound on the race probability per iteration when no race was seen (3/N) */
  upperBound: number | null;
  faults: number;
  interrupted: number;
  judgement: Judgement | "fault";
  why: string;
  raceRecords: { where: string; races: number; seed: number | null; firstRace: FirstRaceInfo }[];
}

/** Read every file's records; a truncated last line is skipped with a note. */
export function readRecords(files: readonly string[], note: (s: string) => void): Located[] {
  const out: Located[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new UsageError(`cannot read ${file} (${(e as Error).message.split("\n")[0]})`);
    }
    const lines = text.split("\n");
    // The last element is "" when the file ends with a newline.
    const lastIndex = lines[lines.length - 1] === "" ? lines.length - 2 : lines.length - 1;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.trim() === "") continue;
      const where = `${file}:${i + 1}`;
      let rec: CampaignRecord;
      try {
        rec = JSON.parse(line);
      } catch {
        if (i === lastIndex && !text.endsWith("\n")) {
          note(`gupstress merge: ${where}: a truncated last line (a killed shard?), skipped\n`);
          continue;
        }
        throw new UsageError(`${where} is not a JSON record`);
      }
      if (rec === null || typeof rec !== "object" || rec.tool !== "gupstress") {
        throw new UsageError(`${where} is not a gupstress record (no "tool":"gupstress")`);
      }
      out.push({ rec, where });
    }
  }
  return out;
}

/** What must agree within a group: the scenario's geometry and delays. */
function configKey(r: CampaignRecord): string {
  return JSON.stringify({
    cpus: r.cpus,
    regions: r.regions,
    ptes: r.ptes,
    delays: r.config?.delays ?? [],
    holdPins: r.mode === "freerun" ? (r.config?.holdPins ?? null) : null,
  });
}

function configText(r: CampaignRecord): string {
  const delays = (r.config?.delays as { point: string; maxNs: number; prob: number }[]) ?? [];
  return `cpus ${r.cpus}, regions ${r.regions}, ptes ${r.ptes}, delays ${delays.map((d) => `${d.point}=${d.maxNs}@${d.prob}`).join(" ") || "none"}${r.mode === "freerun" ? `, hold ${r.config?.holdPins}` : ""}`;
}

/** Combine records; throws UsageError for mixed versions or configurations unless forced. */
export function mergeRecords(
  recs: readonly Located[],
  force: boolean,
  note: (s: string) => void,
): MergedGroup[] {
  const versions = new Map<string, string>();
  for (const { rec, where } of recs)
    if (!versions.has(rec.version)) versions.set(rec.version, where);
  if (versions.size > 1) {
    const list = [...versions].map(([v, w]) => `${w} is ${v}`).join(", ");
    if (!force)
      throw new UsageError(`records from different gupstress versions (${list}): use --force`);
    note(`gupstress merge: --force: combining records from different versions (${list})\n`);
  }
  const groups = new Map<string, Located[]>();
  for (const l of recs) {
    const key = `${l.rec.scenario}\0${l.rec.fix}\0${l.rec.mode}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  const merged: MergedGroup[] = [];
  const outcomesOf = new Map<MergedGroup, Record<string, Counted>>();
  for (const list of groups.values()) {
    const first = list[0];
    const differ = list.find((l) => configKey(l.rec) !== configKey(first.rec));
    if (differ !== undefined) {
      const what = `${first.rec.scenario} ${first.rec.fix} ${first.rec.mode}: ${first.where} has ${configText(first.rec)}; ${differ.where} has ${configText(differ.rec)}`;
      if (!force)
        throw new UsageError(`records of different configurations (${what}): use --force`);
      note(`gupstress merge: --force: combining different configurations (${what})\n`);
    }
    let scenario: ReturnType<typeof scenarioByName>;
    try {
      scenario = scenarioByName(first.rec.scenario);
    } catch (e) {
      throw new UsageError(`${first.where}: ${(e as Error).message}`);
    }
    const outcomes: Record<string, Counted> = {};
    const g: MergedGroup = {
      scenario: first.rec.scenario,
      fix: first.rec.fix,
      mode: first.rec.mode,
      expect: expectationOf(scenario, first.rec.fix),
      runs: 0,
      files: [],
      iterations: 0,
      races: 0,
      windowHits: 0,
      forbidden: 0,
      minWindowHits: 0,
      durationMs: 0,
      upperBound: null,
      faults: 0,
      interrupted: 0,
      judgement: "inconclusive",
      why: "",
      raceRecords: [],
    };
    for (const { rec, where } of list) {
      g.runs++;
      const file = where.slice(0, where.lastIndexOf(":"));
      if (!g.files.includes(file)) g.files.push(file);
      g.iterations += rec.iterations;
      g.races += rec.races;
      g.windowHits += rec.windowHits;
      g.forbidden += rec.forbidden;
      g.minWindowHits = Math.max(g.minWindowHits, rec.minWindowHits ?? 10);
      g.durationMs += rec.durationMs;
      if (rec.judgement === "fault") g.faults++;
      if (rec.judgement === "interrupted") g.interrupted++;
      for (const [k, o] of Object.entries(rec.outcomes ?? {})) {
        const c = outcomes[k] ?? { count: 0, grade: o.grade, tag: o.tag };
        c.count += o.count;
        outcomes[k] = c;
      }
      if (rec.races > 0) {
        g.raceRecords.push({
          where,
          races: rec.races,
          seed: rec.seed,
          firstRace: rec.firstRace ?? { seed: rec.seed },
        });
      }
    }
    g.upperBound = g.races === 0 && g.iterations > 0 ? 3 / g.iterations : null;
    merged.push(g);
    outcomesOf.set(g, outcomes);
  }
  // Judge each group; the scenario's racy baseline in the same mode, when
  // merged too, is the control (as with stress --control).
  for (const g of merged) {
    const baseline = fixParts(scenarioByName(g.scenario)).baseline;
    const control = merged.find(
      (x) => x.scenario === g.scenario && x.mode === g.mode && x.fix === baseline && x !== g,
    );
    const j = judge(outcomesOf.get(g) ?? {}, g.expect, {
      windowHits: g.windowHits,
      minWindowHits: g.minWindowHits,
      control: control ? { fix: control.fix, races: control.races } : null,
    });
    g.judgement = g.faults > 0 ? "fault" : j.judgement;
    g.why = g.faults > 0 ? `${g.faults} runs ended in a harness fault` : j.why;
  }
  return merged;
}

/** The exit code stress would give for these groups. */
export function mergeExit(groups: readonly MergedGroup[]): number {
  if (groups.some((g) => g.judgement === "fault")) return EXIT.fault;
  if (groups.some((g) => g.judgement === "NOT as expected")) return EXIT.mismatch;
  if (groups.some((g) => g.judgement === "inconclusive")) return EXIT.inconclusive;
  return EXIT.ok;
}

function raceText(r: MergedGroup["raceRecords"][number], g: MergedGroup): string {
  const f = r.firstRace;
  if (f.replay !== undefined) return `gupstress explore --replay ${f.replay}`;
  const at =
    f.region !== undefined
      ? `first at region ${f.region}, page ${f.index}, frame ${f.frame}, CPU ${f.cpu}; `
      : "";
  return `${at}seed ${r.seed} (gupstress stress --scenario ${g.scenario} --fix ${g.fix} --mode ${g.mode} --seed ${r.seed})`;
}

export async function mergeCommand(argv: readonly string[], io: Io): Promise<number> {
  const flags = argv.filter((a) => a.startsWith("--"));
  const files = argv.filter((a) => !a.startsWith("--"));
  let f: Map<string, unknown>;
  let groups: MergedGroup[];
  let records: Located[];
  const notes: string[] = [];
  try {
    f = parseFlags(flags, FLAGS);
    if (f.get("help") === true) {
      io.out(`${mergeHelp()}\n`);
      return EXIT.ok;
    }
    if (files.length === 0) throw new UsageError("no FILE.jsonl given (gupstress merge FILES...)");
    records = readRecords(files, (s) => io.err(s));
    if (records.length === 0) throw new UsageError(`no records in ${files.join(", ")}`);
    groups = mergeRecords(records, f.get("force") === true, (s) => notes.push(s));
  } catch (e) {
    return usageExit("merge", io.err, e);
  }
  for (const n of notes) io.err(n);
  const code = mergeExit(groups);
  const num = (n: number) => n.toLocaleString("en-US");
  if (f.get("json") === true) {
    io.out(
      `${JSON.stringify({ ok: code === EXIT.ok, exit: code, records: records.length, files, groups })}\n`,
    );
    return code;
  }
  const lines = [
    `gupstress merge: ${records.length} records from ${files.length} files`,
    `  ${"scenario".padEnd(16)} ${"fix".padEnd(10)} ${"mode".padEnd(19)} ${"runs".padStart(5)} ${"iterations".padStart(15)} ${"races".padStart(11)} ${"window hits".padStart(13)} ${"95% bound".padStart(10)}  verdict`,
  ];
  for (const g of groups) {
    const bound = g.upperBound === null ? "-" : g.upperBound.toExponential(2);
    lines.push(
      `  ${g.scenario.padEnd(16)} ${g.fix.padEnd(10)} ${g.mode.padEnd(19)} ${String(g.runs).padStart(5)} ${num(g.iterations).padStart(15)} ${num(g.races).padStart(11)} ${num(g.windowHits).padStart(13)} ${bound.padStart(10)}  ${g.races > 0 ? "race" : "no race"} (expected ${g.expect}): ${g.judgement}${g.why === "" ? "" : ` (${g.why})`}`,
    );
  }
  const raced = groups.filter((g) => g.raceRecords.length > 0);
  if (raced.length > 0) {
    lines.push("", "  races:");
    for (const g of raced) {
      for (const r of g.raceRecords) {
        lines.push(`    ${g.fix} ${g.mode}: ${r.where}: ${num(r.races)} races; ${raceText(r, g)}`);
      }
    }
  }
  const total = groups.reduce((a, g) => a + g.iterations, 0);
  lines.push(
    "",
    `  total: ${num(total)} iterations in ${groups.length} groups; verdict: ${code === EXIT.ok ? "as expected" : code === EXIT.mismatch ? "NOT as expected" : code === EXIT.inconclusive ? "inconclusive" : "harness fault"} (exit ${code})`,
  );
  io.out(`${lines.join("\n")}\n`);
  return code;
}
