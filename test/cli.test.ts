// The command line as a user meets it: bad input gives one clear line and
// exit 2; results give the exit code --expect asks for; --json is one object.

import { describe, expect, it } from "vitest";
import { gupstress } from "./run-cli.js";

describe("bad input: one line, exit 2, no stack trace", () => {
  const cases: [string[], RegExp][] = [
    [["stress", "--bogus"], /unknown flag --bogus \(accepted: --scenario, --fix, /],
    [
      ["stress", "--fix", "nope"],
      /--fix: unknown fix 'nope' \(accepted: none, ipi, recheck, upstream, kvm-pv-flush/,
    ],
    [["stress", "--fix", "recheck~nosuch=true"], /unknown knob 'nosuch'/],
    [["stress", "--scenario", "nope"], /--scenario 'nope' is not one of: gup-vs-collapse/],
    [
      ["stress", "--cpus", "1"],
      /--cpus 1 is out of range \(accepted: a whole number from 2 to 64\)/,
    ],
    [["stress", "--cpus", "65"], /out of range/],
    [["stress", "--cpus", "two"], /--cpus 'two' is not a number/],
    [["stress", "--time", "-3"], /--time -3 is out of range/],
    [["stress", "--iterations", "1.5"], /not a whole number/],
    [["stress", "--mode", "fast"], /--mode 'fast' is not one of: lockstep, freerun/],
    [["stress", "--delay", "Q9=100"], /unknown point Q9/],
    [["stress", "--delay", "G1=abc"], /expected POINT=NS/],
    [["stress", "--delay", "G1=100@2"], /probability 2 is out of range/],
    [["stress", "--expect", "race"], /--expect needs a single --fix/],
    [["stress", "--hold", "3"], /--hold applies to --mode freerun only/],
    [
      // issue 12 item 16: each delay within limits, together past the stall bound
      [
        "stress",
        "--ptes",
        "64",
        "--regions",
        "1",
        "--no-delays",
        ...["G3", "G5", "G7", "G8", "K0"].flatMap((p) => ["--delay", `${p}=10000000`]),
      ],
      /add up to \d+ ms in one operation at worst .* more than --stall-ms 2000/,
    ],
    [["stress", "--fix"], /--fix needs a value/],
    [["stress", "--json", "extra"], /unexpected argument 'extra'/],
    [["stress", "--seed", "1", "--seed", "2"], /--seed given twice/],
    [["frobnicate"], /unknown command 'frobnicate'/],
    [
      [
        "stress",
        "--regions",
        "4096",
        "--ptes",
        "64",
        "--cpus",
        "64",
        "--mode",
        "freerun",
        "--hold",
        "64",
      ],
      /frames, more than a pmd can name/,
    ],
  ];
  for (const [args, message] of cases) {
    it(args.join(" "), () => {
      const r = gupstress(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
    });
  }
});

describe("results and exit codes", () => {
  it("--help lists every flag and exits 0", () => {
    const r = gupstress(["stress", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of [
      "--fix",
      "--mode",
      "--cpus",
      "--time",
      "--iterations",
      "--seed",
      "--regions",
      "--delay",
      "--json",
      "--expect",
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it("--json prints exactly one JSON object with the documented fields; --expect race exits 0", () => {
    // --until-race: on a loaded machine the first race can take more than a fixed count of trials
    const r = gupstress([
      "stress",
      "--fix",
      "none",
      "--cpus",
      "2",
      "--time",
      "30",
      "--until-race",
      "--seed",
      "3",
      "--json",
      "--expect",
      "race",
      "--quiet",
    ]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]);
    for (const k of [
      "scenario",
      "fix",
      "mode",
      "cpus",
      "seed",
      "durationMs",
      "iterations",
      "gupCalls",
      "pins",
      "backoffs",
      "mutatorOps",
      "windowHits",
      "fallbacks",
      "races",
      "confirmed",
      "firstRaceMs",
      "outcomes",
      "firstRace",
      "environment",
    ]) {
      expect(j).toHaveProperty(k);
    }
    expect(j.seed).toBe(3);
    expect(j.scenario).toBe("gup-vs-collapse");
    expect(typeof j.backoffs).toBe("number");
    expect(j.mutatorOps).toHaveProperty("aborted");
    expect(j.races).toBeGreaterThan(0);
    expect(j.outcomes["stale-pin"]).toEqual(expect.objectContaining({ grade: "FORBIDDEN" }));
    expect(j.firstRace.trace[0]).toEqual(
      expect.objectContaining({
        cpu: expect.any(Number),
        role: expect.any(String),
        step: expect.any(String),
        clock: expect.any(Number),
      }),
    );
    for (const k of ["node", "v8", "cpuModel", "cores"]) expect(j.environment).toHaveProperty(k);
  });

  it("a race under --expect clean exits 1, and the summary draws the race", () => {
    const r = gupstress([
      "stress",
      "--fix",
      "none",
      "--expect",
      "clean",
      "--cpus",
      "2",
      "--time",
      "30",
      "--until-race",
      "--quiet",
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/RACE: [\d,]+ stale-pin/);
    expect(r.stdout).toMatch(/CPU 0: THP collapse\s+CPU 1: GUP-fast/);
    expect(r.stdout).toMatch(/K4 pmdp_collapse_flush/);
    expect(r.stdout).toMatch(/NOT as expected/);
  });

  it("a single fix is held to its own expectation by default: none must race, recheck must not", () => {
    const none = gupstress([
      "stress",
      "--fix",
      "none",
      "--cpus",
      "2",
      "--time",
      "30",
      "--until-race",
      "--quiet",
    ]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/expected race; window reached [\d,]+ times\): as expected/);
  });

  it("a clean fix under --expect clean exits 0", () => {
    const r = gupstress([
      "stress",
      "--fix",
      "recheck",
      "--cpus",
      "2",
      "--iterations",
      "4000",
      "--quiet",
    ]);
    // Never a false race. On a loaded machine 4000 trials may not reach the
    // window 10 times: then the verdict is inconclusive (exit 4), not clean.
    expect(r.stdout).toMatch(/no race in [\d,]+ iterations/);
    if (r.code === 4) expect(r.stdout).toMatch(/inconclusive/);
    else expect(r.code).toBe(0);
  });
});

describe("no verdict without evidence", () => {
  // The race window is seldom reached when the walker sleeps up to 5 ms
  // after G1 (4 to 11 times a second, measured: the collapse is over before
  // it reads a pte, unless it read the pmd just before): about as many hits
  // in 1 s as a clean verdict needs.
  const blind = ["--no-delays", "--delay", "G1=5000000", "--time", "1", "--cpus", "2", "--quiet"];
  const inconclusive = (r: { code: number; stdout: string }) => {
    expect(r.code).toBe(4);
    const j = JSON.parse(r.stdout);
    expect(j.verdict).toBe("inconclusive");
    expect(j.windowHits).toBeLessThan(j.minWindowHits);
    expect(j.why).toMatch(/race window was reached/);
  };
  it("--fix recheck with the window seldom reached: clean only with --min-window hits, else inconclusive (exit 4, the reason in the JSON)", () => {
    const r = gupstress(["stress", "--fix", "recheck", ...blind, "--json"]);
    const j = JSON.parse(r.stdout);
    expect(j.races).toBe(0);
    if (j.windowHits >= j.minWindowHits) {
      expect(r.code).toBe(0);
      expect(j.verdict).toBe("clean");
    } else inconclusive(r);
  });
  it("--fix none with the window seldom reached: the race the oracle saw, or inconclusive; never 'no race'", () => {
    const r = gupstress(["stress", "--fix", "none", ...blind, "--json"]);
    const j = JSON.parse(r.stdout);
    if (j.races > 0) {
      expect(r.code).toBe(0);
      expect(j.verdict).toBe("race");
      expect(j.outcomes["stale-pin"].count + j.outcomes["wrong-page"].count).toBe(j.races);
    } else inconclusive(r);
  });
  it("a clean fix whose hits fall short of --min-window: inconclusive, exit 4", () => {
    const r = gupstress(
      ["stress", "--fix", "recheck", "--time", "1", "--cpus", "2"].concat([
        "--min-window",
        "1000000000",
        "--quiet",
        "--json",
      ]),
    );
    inconclusive(r);
  });

  it("--control runs the racy baseline first; a clean fix is clean only beside a control that raced", () => {
    const r = gupstress([
      "stress",
      "--fix",
      "recheck",
      "--control",
      "--cpus",
      "2",
      "--time",
      "3",
      "--json",
      "--quiet",
    ]);
    const j = JSON.parse(r.stdout);
    expect(j.runs.map((x: { fix: string }) => x.fix)).toEqual(["none", "recheck"]);
    const [control, fix] = j.runs;
    // Under load the control may miss the race: then the clean fix is inconclusive, never clean.
    if (control.races > 0) {
      expect(fix.judgement).toBe("as expected");
      expect(r.code).toBe(0);
    } else {
      // The control itself is "NOT as expected" (exit 1) if it reached the window and still missed.
      expect(fix.judgement).toBe("inconclusive");
      expect([1, 4]).toContain(r.code);
    }
  });
});

describe("soak", () => {
  it("rotates the clean fixes and prints totals; zero races exits 0", () => {
    const r = gupstress(["soak", "--minutes", "0.06", "--slot", "1", "--cpus", "2", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.races).toBe(0);
    expect(j.totals.map((t: { fix: string; mode: string }) => `${t.fix}/${t.mode}`)).toEqual([
      "ipi/lockstep",
      "recheck/lockstep",
      "upstream/lockstep",
      "ipi/freerun",
      "recheck/freerun",
      "upstream/freerun",
    ]);
    expect(j.iterations).toBeGreaterThan(0);
  });

  it("rejects a bad flag with one line and exit 2", () => {
    const r = gupstress(["soak", "--minutes", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
