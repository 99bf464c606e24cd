// Issue 12, item 6: progress on stderr never changes the verdict: a stderr
// that is full (2>/dev/full) or whose reader went away still gives the results
// on stdout and the exit code of the run.

import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI } from "./run-cli.js";

// Progress goes to a non-terminal stderr every 5 s: the runs last a little longer.
const ARGS = ["stress", "--fix", "recheck", "--cpus", "2", "--time", "5.5", "--json"];

describe("a failing stderr", () => {
  it("2>/dev/full: results on stdout, exit 0", () => {
    const r = spawnSync(
      "sh",
      ["-c", `"${process.execPath}" "${CLI}" ${ARGS.join(" ")} 2>/dev/full`],
      {
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
  });

  it("a stderr pipe closed early: results on stdout, exit 0", async () => {
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, ...ARGS]);
      child.stderr.destroy();
      let stdout = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.on("close", (code) => resolve({ code, stdout }));
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ok).toBe(true);
  });
});
