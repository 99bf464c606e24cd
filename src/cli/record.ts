// Campaign records: one JSON line per finished run, appended to a --out FILE.jsonl
// as the run ends (one write of the whole line, then fsync), so that a kill
// loses at most the run in progress. `gupstress merge` reads them back.

import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ExploreReport } from "../explore/explore.js";
import type { RunConfig } from "../run/config.js";
import { type Environment, environment } from "../run/environment.js";
import type { StressResult } from "../run/stress.js";
import { forbiddenIn } from "../run/verdict.js";
import type { Grade, OutcomeTag } from "../scenarios/scenario.js";
import { UsageError } from "./args.js";

export type RecordKind = "stress" | "soak-slice" | "explore";

export interface CampaignRecord {
  tool: "gupstress";
  kind: RecordKind;
  version: string;
  commit: string | null;
  scenario: string;
  fix: string;
  /** lockstep / freerun; explore: "explore-" + strategy */
  mode: string;
  cpus: number;
  regions: number;
  ptes: number;
  seed: number | null;
  /** stress: trials or GUP-fast calls; explore: interleavings */
  iterations: number;
  races: number;
  windowHits: number;
  forbidden: number;
  /** the fewest window hits a "no race" verdict needs (explore: 0, its space is covered) */
  minWindowHits: number;
  judgement: string;
  durationMs: number;
  firstRace: FirstRaceInfo | null;
  /** the oracle's counts, to combine with the same verdict rule */
  outcomes: Record<string, { count: number; grade: Grade; tag: OutcomeTag }>;
  config: Record<string, unknown>;
  environment: Environment;
}

export interface FirstRaceInfo {
  seed: number | null;
  region?: number;
  index?: number;
  frame?: number;
  cpu?: number;
  confirmed?: boolean;
  /** explore: `gupstress explore --replay STRING` */
  replay?: string;
}

let cachedVersion: string | undefined;

/** This gupstress's version, from its package.json. */
export function toolVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      if (pkg.name === "gupstress") {
        cachedVersion = String(pkg.version);
        return cachedVersion;
      }
    } catch {}
    dir = dirname(dir);
  }
  cachedVersion = "unknown";
  return cachedVersion;
}

/** An open --out file: each append is one line, written whole and flushed to disk. */
export class RecordSink {
  private constructor(
    readonly path: string,
    private fd: number,
  ) {}

  /** Open for append; an unwritable file is a UsageError (checked before any run). */
  static open(path: string): RecordSink {
    try {
      return new RecordSink(path, openSync(path, "a", 0o644));
    } catch (e) {
      throw new UsageError(
        `--out ${path}: cannot append to it (${(e as Error).message.split("\n")[0]})`,
      );
    }
  }

  append(rec: CampaignRecord): void {
    const buf = Buffer.from(`${JSON.stringify(rec)}\n`, "utf8");
    // One write for the whole line (a regular file in append mode takes it whole).
    let off = writeSync(this.fd, buf, 0, buf.length);
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      closeSync(this.fd);
    } catch {}
    this.fd = -1;
  }
}

const outcomeCounts = (o: StressResult["outcomes"] | ExploreReport["outcomes"]) =>
  Object.fromEntries(
    Object.entries(o).map(([k, v]) => [k, { count: v.count, grade: v.grade, tag: v.tag }]),
  );

/** The record of one stress run (a stress fix or a soak slice). */
export function stressRecord(
  kind: "stress" | "soak-slice",
  r: StressResult,
  c: RunConfig,
  judgement: string,
  minWindowHits: number,
): CampaignRecord {
  const fr = r.firstRace;
  return {
    tool: "gupstress",
    kind,
    version: toolVersion(),
    commit: r.environment.commit,
    scenario: r.scenario,
    fix: r.fix,
    mode: r.mode,
    cpus: r.cpus,
    regions: r.regions,
    ptes: r.ptes,
    seed: r.seed,
    iterations: r.iterations,
    races: r.races,
    windowHits: r.windowHits,
    forbidden: forbiddenIn(r.outcomes),
    minWindowHits,
    judgement,
    durationMs: r.durationMs,
    firstRace:
      r.races > 0
        ? fr === null
          ? { seed: r.seed }
          : {
              seed: r.seed,
              region: fr.region,
              index: fr.index,
              frame: fr.frame,
              cpu: fr.cpu,
              confirmed: fr.confirmed,
            }
        : null,
    outcomes: outcomeCounts(r.outcomes),
    config: {
      delays: c.delays,
      holdPins: c.holdPins,
      stallMs: c.stallMs,
      timeMs: c.timeMs,
      iterations: c.iterations,
      untilRace: c.untilRace,
      trace: c.trace,
      ...(r.aborted === null ? {} : { aborted: r.aborted }),
      ...(r.interrupted === null ? {} : { interrupted: r.interrupted }),
    },
    environment: r.environment,
  };
}

/** The record of one fix explored. */
export function exploreRecord(r: ExploreReport, judgement: string): CampaignRecord {
  const cex = r.counterexample;
  const env = environment();
  return {
    tool: "gupstress",
    kind: "explore",
    version: toolVersion(),
    commit: env.commit,
    scenario: r.scenario,
    fix: r.fix,
    mode: `explore-${r.strategy}`,
    cpus: r.cpus,
    regions: 1,
    ptes: r.ptes,
    seed: r.seed,
    iterations: r.explored,
    races: r.violations,
    windowHits: r.explored,
    forbidden: forbiddenIn(r.outcomes),
    minWindowHits: 0,
    judgement,
    durationMs: r.ms,
    firstRace: cex === null ? null : { seed: r.seed, replay: cex.replay },
    outcomes: outcomeCounts(r.outcomes),
    config: {
      delays: [],
      strategy: r.strategy,
      bound: r.bound,
      boundKind: r.boundKind,
      complete: r.complete,
    },
    environment: env,
  };
}

/** The flag every recording command takes. */
export const OUT_FLAG = {
  name: "out",
  kind: "string",
  arg: "FILE.jsonl",
  help: "append one JSON line per finished run to FILE (for gupstress merge); a kill loses only the run in progress",
} as const;
