// Issue 12, item 7: results that cannot be written to stdout (>/dev/full) give
// exit 3 and one line on stderr, never exit 0 after printing nothing.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI } from "./run-cli.js";

function toDevFull(args: string) {
  const r = spawnSync("sh", ["-c", `"${process.execPath}" "${CLI}" ${args} >/dev/full`], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr };
}

describe("stdout is full", () => {
  for (const args of [
    "explore --fix none --json",
    "explore --fix none",
    "stress --fix recheck --cpus 2 --time 0.3 --json",
    "stress --fix recheck --cpus 2 --time 0.3",
  ]) {
    it(`${args}: exit 3, one line`, () => {
      const r = toDevFull(args);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/cannot write the results to stdout \(ENOSPC/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it("a mismatch that cannot be written is still a fault (3), not 0", () => {
    // --expect race on a clean fix: exit 1 when written, 3 when not.
    expect(toDevFull("explore --fix recheck --expect race").code).toBe(3);
  });
});
