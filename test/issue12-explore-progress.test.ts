// Issue 12, item 22: a long explore run says up front what it may cost and
// shows progress on stderr; the search calls back without slowing its loop.

import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { exploreProgress } from "../src/cli/explore-progress.js";
import { DEFAULT_EXPLORE, explore } from "../src/explore/explore.js";
import { CLI } from "./run-cli.js";

describe("the search's progress callback", () => {
  it("sampling calls back every 256 runs", () => {
    const seen: number[] = [];
    explore({
      ...DEFAULT_EXPLORE,
      ptes: 1, // one choice of the walk's range: the runs are not split
      fix: "recheck",
      strategy: "random",
      runs: 1000,
      onProgress: (n) => seen.push(n),
    });
    expect(seen).toEqual([256, 512, 768]);
  });
});

describe("what the user is told", () => {
  const run = { ...DEFAULT_EXPLORE, fix: "none", strategy: "random" as const, runs: 1e9 };

  function fake(isTTY: boolean) {
    let t = 0;
    const lines: string[] = [];
    const p = exploreProgress(run, { err: (s) => lines.push(s), isTTY }, () => t);
    return {
      lines,
      at: (ms: number, done: number) => {
        t = ms;
        p.onProgress(done);
      },
      done: p.done,
    };
  }

  it("--runs: an estimate from the rate measured early on", () => {
    const f = fake(false);
    f.at(50, 1000);
    f.at(120, 2000);
    expect(f.lines).toEqual([]);
    f.at(330, 102_000); // 100,000 runs in 210 ms after the warm-up
    expect(f.lines).toHaveLength(1);
    expect(f.lines[0]).toMatch(/random, 1,000,000,000 runs at 476,190 runs\/s: about 35 min/);
  });

  it("no estimate for a short run, and no progress before 2 s", () => {
    const lines: string[] = [];
    let clock = 0;
    const short = exploreProgress(
      { ...run, runs: 10_000 },
      { err: (s) => lines.push(s), isTTY: true },
      () => clock,
    );
    for (const [ms, n] of [
      [110, 1000],
      [400, 5000],
      [1500, 9000],
    ]) {
      clock = ms;
      short.onProgress(n);
    }
    expect(lines).toEqual([]);
  });

  it("progress every 2 s on a terminal (redrawn), every 10 s otherwise", () => {
    const tty = fake(true);
    const plain = fake(false);
    for (let ms = 0; ms <= 12_000; ms += 500) {
      tty.at(ms, ms * 100);
      plain.at(ms, ms * 100);
    }
    const ttyProgress = tty.lines.filter((l) => l.includes(" of "));
    expect(ttyProgress.map((l) => l.match(/in ([\d.]+) s/)?.[1])).toEqual([
      "2.0",
      "4.0",
      "6.0",
      "8.0",
      "10",
      "12",
    ]);
    expect(ttyProgress.every((l) => l.startsWith("\r"))).toBe(true);
    tty.done();
    expect(tty.lines.at(-1)).toBe("\r\x1b[K");
    const plainProgress = plain.lines.filter((l) => l.includes(" of "));
    expect(plainProgress).toHaveLength(2);
    expect(plainProgress[0]).toMatch(/\n$/);
  });

  it("exhaustive without memo: a warning up front", () => {
    const lines: string[] = [];
    exploreProgress(
      { ...DEFAULT_EXPLORE, fix: "none", cpus: 4, ptes: 8, noMemo: true },
      { err: (s) => lines.push(s), isTTY: false },
    );
    expect(lines.join("")).toMatch(/--no-memo .* 4 CPUs x 8 ptes .* may not finish/);
  });
});

/** Run the CLI until its stderr matches every pattern (or 15 s pass), then stop it. */
function stderrUntil(args: string[], patterns: RegExp[]) {
  return new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.stdout.resume();
    child.stderr.on("data", (d) => {
      stderr += d;
      if (patterns.every((p) => p.test(stderr))) child.kill("SIGKILL");
    });
    child.on("close", () => {
      clearTimeout(timer);
      resolve(stderr);
    });
  });
}

describe("the CLI on runs that would take hours", () => {
  it("--runs 1e9: an estimate, then progress", async () => {
    const err = await stderrUntil(
      ["explore", "--strategy", "random", "--runs", "1e9", "--fix", "none"],
      [/about [\d.]+ (h|days)\n/, /of 1,000,000,000 runs/],
    );
    expect(err).toMatch(/random, 1,000,000,000 runs at [\d,]+ runs\/s: about/);
    expect(err).toMatch(/of 1,000,000,000 runs \([\d.]+%\) in/);
  });

  it("--no-memo --cpus 4 --ptes 8: a warning, then progress", async () => {
    const err = await stderrUntil(
      ["explore", "--no-memo", "--cpus", "4", "--ptes", "8", "--fix", "none"],
      [/may not finish/, /states run in/],
    );
    expect(err).toMatch(/may not finish/);
    expect(err).toMatch(/[\d,]+ states run in [\d.]+ s/);
  });
});
