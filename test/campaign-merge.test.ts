// Campaigns (issue 12): shards append one record per finished slice, a shard
// killed halfway keeps every slice it finished, and merge turns them all into
// one verdict with stress's rule and exit code.

import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, gupstress } from "./run-cli.js";

const dir = mkdtempSync(join(tmpdir(), "gupstress-campaign-"));

function shard(k: number, seconds: number): { child: ChildProcess; stdout: Promise<string> } {
  const child = spawn(
    process.execPath,
    [
      CLI,
      "soak",
      "--minutes",
      String(seconds / 60),
      "--slot",
      "1",
      "--cpus",
      "2",
      "--seed",
      String(k * 1_000_000),
      "--json",
      "--out",
      join(dir, `shard-${k}.jsonl`),
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  const stdout = new Promise<string>((resolve) => child.on("close", () => resolve(out)));
  return { child, stdout };
}

const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "");

describe("a 3-shard campaign with one shard killed halfway", () => {
  it("merges into one verdict; no finished slice is lost", async () => {
    const shards = [1, 2, 3].map((k) => shard(k, 4));
    // Kill shard 2 halfway (once it has finished a slice: on a loaded
    // machine that takes longer than on an idle one), with no chance to clean up.
    const killedFile = join(dir, "shard-2.jsonl");
    const hasSlice = () => {
      try {
        return readFileSync(killedFile, "utf8").includes("\n");
      } catch {
        return false;
      }
    };
    for (let t = 0; t < 600 && !hasSlice(); t++) await new Promise((r) => setTimeout(r, 50));
    shards[1].child.kill("SIGKILL");
    const outs = await Promise.all(shards.map((s) => s.stdout));
    // The shards that ran to the end: every slice they counted is a record.
    for (const k of [0, 2]) {
      const totals = JSON.parse(outs[k]);
      const recs = lines(join(dir, `shard-${k + 1}.jsonl`)).map((l) => JSON.parse(l));
      expect(recs.length).toBe(
        totals.totals.reduce((a: number, t: { runs: number }) => a + t.runs, 0),
      );
      expect(recs.reduce((a, r) => a + r.iterations, 0)).toBe(totals.iterations);
      expect(recs.every((r) => r.kind === "soak-slice" && r.tool === "gupstress")).toBe(true);
      // each shard its own seed range
      expect(recs.every((r) => Math.floor(r.seed / 1_000_000) === k + 1)).toBe(true);
    }
    // The killed shard: its finished slices, and then a line cut short by the kill.
    const killed = join(dir, "shard-2.jsonl");
    const kept = lines(killed).map((l) => JSON.parse(l));
    expect(kept.length).toBeGreaterThanOrEqual(1);
    appendFileSync(killed, '{"tool":"gupstress","kind":"soak-sl');
    const files = [1, 2, 3].map((k) => join(dir, `shard-${k}.jsonl`));
    const all = files
      .flatMap((f) => lines(f))
      .flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });
    const r = gupstress(["merge", "--json", ...files]);
    expect(r.stderr).toMatch(/shard-2\.jsonl:\d+: a truncated last line .*skipped/);
    const m = JSON.parse(r.stdout);
    expect(r.code).toBe(m.exit);
    // clean fixes only: never "NOT as expected"; as expected or inconclusive for short slices
    expect([0, 4]).toContain(r.code);
    expect(m.records).toBe(all.length);
    const sum = (k: "runs" | "iterations" | "windowHits") =>
      m.groups.reduce((a: number, g: Record<string, number>) => a + g[k], 0);
    expect(sum("runs")).toBe(all.length);
    expect(sum("iterations")).toBe(all.reduce((a, x) => a + x.iterations, 0));
    for (const g of m.groups) {
      expect(g.expect).toBe("clean");
      expect(g.races).toBe(0);
      expect(g.upperBound).toBeCloseTo(3 / g.iterations);
    }
    // and the text form says the same
    const t = gupstress(["merge", ...files]);
    expect(t.code).toBe(r.code);
    expect(t.stdout).toMatch(/verdict: (as expected|inconclusive) \(exit [04]\)/);
  }, 60_000);
});

function record(over: Record<string, unknown> = {}) {
  return {
    tool: "gupstress",
    kind: "stress",
    version: "0.1.0",
    commit: null,
    scenario: "gup-vs-collapse",
    fix: "recheck",
    mode: "lockstep",
    cpus: 2,
    regions: 16,
    ptes: 8,
    seed: 7,
    iterations: 1000,
    races: 0,
    windowHits: 20,
    forbidden: 0,
    minWindowHits: 10,
    judgement: "as expected",
    durationMs: 100,
    firstRace: null,
    outcomes: { "stale-pin": { count: 0, grade: "FORBIDDEN", tag: "race" } },
    config: { delays: [{ point: "G1", maxNs: 2000, prob: 0.5 }], holdPins: 4, stallMs: 2000 },
    environment: {},
    ...over,
  };
}

function file(name: string, recs: object[], tail = "\n"): string {
  const f = join(dir, name);
  writeFileSync(f, recs.map((r) => JSON.stringify(r)).join("\n") + tail);
  return f;
}

describe("gupstress merge", () => {
  it("combines groups with stress's rule: a racy fix that raced, a clean one with enough hits", () => {
    const race = {
      races: 3,
      forbidden: 3,
      fix: "none",
      seed: 42,
      outcomes: { "stale-pin": { count: 3, grade: "FORBIDDEN", tag: "race" } },
      firstRace: { seed: 42, region: 3, index: 1, frame: 99, cpu: 1, confirmed: true },
    };
    const a = file("a.jsonl", [record(), record({ ...race })]);
    const b = file("b.jsonl", [record({ seed: 8 }), record({ fix: "none", seed: 43 })]);
    const r = gupstress(["merge", a, b]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /recheck\s+lockstep\s+2\s+2,000\s+0\s+40\s+1\.50e-3\s+no race \(expected clean\): as expected/,
    );
    expect(r.stdout).toMatch(
      /a\.jsonl:2: 3 races; first at region 3, page 1, frame 99, CPU 1; seed 42/,
    );
  });

  it("too few window hits over all shards: inconclusive, exit 4; a race under a clean fix: exit 1", () => {
    const few = file("few.jsonl", [record({ windowHits: 2 }), record({ windowHits: 3 })]);
    expect(gupstress(["merge", few]).code).toBe(4);
    const bad = file("bad.jsonl", [
      record({
        races: 1,
        outcomes: { "stale-pin": { count: 1, grade: "FORBIDDEN", tag: "race" } },
      }),
    ]);
    expect(gupstress(["merge", few, bad]).code).toBe(1);
  });

  it("refuses different versions or configurations in one line naming the records, unless --force", () => {
    const a = file("v1.jsonl", [record()]);
    const b = file("v2.jsonl", [record({ version: "0.2.0" })]);
    let r = gupstress(["merge", a, b]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/v1\.jsonl:1 is 0\.1\.0, .*v2\.jsonl:1 is 0\.2\.0/);
    expect(gupstress(["merge", "--force", a, b]).code).toBe(0);
    const c = file("c8.jsonl", [record({ cpus: 8 })]);
    r = gupstress(["merge", a, c]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/v1\.jsonl:1 has cpus 2.*c8\.jsonl:1 has cpus 8/);
    expect(gupstress(["merge", "--force", a, c]).code).toBe(0);
  });

  it("a broken line that is not the last, no files, or a missing file: usage errors", () => {
    const mid = join(dir, "mid.jsonl");
    writeFileSync(mid, `{"tool":"gups\n${JSON.stringify(record())}\n`);
    for (const args of [[mid], [], [join(dir, "nope.jsonl")]]) {
      const r = gupstress(["merge", ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
  });
});

describe("--out", () => {
  it("an unwritable --out is a usage error up front (one line, exit 2) for stress, soak and explore", () => {
    for (const cmd of ["stress", "soak", "explore"]) {
      const r = gupstress([cmd, "--out", join(dir, "no/such/dir/x.jsonl")]);
      expect(r.code).toBe(2);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^gupstress ${cmd}: --out .*cannot append`));
    }
  });

  it("stress appends one record per fix run; explore one per fix, with its replay string", () => {
    const out = join(dir, "stress.jsonl");
    writeFileSync(out, "");
    const r = gupstress([
      "stress",
      "--fix",
      "none",
      "--control",
      "--iterations",
      "64",
      "--seed",
      "5",
      "--quiet",
      "--out",
      out,
    ]);
    expect([0, 1, 4]).toContain(r.code);
    const s = lines(out).map((l) => JSON.parse(l));
    expect(s.map((x) => x.fix)).toEqual(["none"]);
    expect(s[0]).toMatchObject({
      kind: "stress",
      seed: 5,
      cpus: expect.any(Number),
      config: { holdPins: 4, stallMs: 2000 },
    });
    expect(s[0].environment.node).toBe(process.version);
    const e = join(dir, "explore.jsonl");
    expect(gupstress(["explore", "--out", e]).code).toBe(0);
    const x = lines(e).map((l) => JSON.parse(l));
    expect(x.map((y) => y.fix)).toEqual(["none", "ipi", "recheck", "upstream", "kvm-pv-flush"]);
    expect(x[0].firstRace.replay).toMatch(/^v2\/gup-vs-collapse\/none\//);
    const m = gupstress(["merge", e]);
    expect(m.code).toBe(0);
    expect(m.stdout).toContain("gupstress explore --replay v2/gup-vs-collapse/none/");
  });
});

describe("gupstress gate", () => {
  it("passes with one JUnit testcase per scenario x fix and per mutant", () => {
    const junit = join(dir, "junit", "gate.xml");
    const r = gupstress(["gate", "--junit", junit], 120_000);
    expect(r.code).toBe(0);
    const xml = readFileSync(junit, "utf8");
    expect(xml).toMatch(/^<\?xml/);
    expect(xml).toMatch(/<testsuites name="gupstress gate" tests="\d+" failures="0"/);
    expect(xml).toContain('<testcase classname="explore.gup-vs-collapse" name="fix none"');
    expect(xml).toContain('name="mutant g6-dropped"');
    // a folder that cannot be made (its parent is a file): a usage error before any work
    const notDir = file("plain.jsonl", [record()]);
    const bad = gupstress(["gate", "--junit", join(notDir, "x.xml")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^gupstress gate: --junit .*cannot write there/);
  }, 120_000);
});
