// Issue 12, item 14: a harness fault (a CPU crashed or hung) inside mutants or
// bench is one line and exit 3, not an internal error with a stack.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { benchCommand } from "../src/cli/bench-command.js";
import { mutantsCommand } from "../src/cli/explore-command.js";

// Every stress run ends as one whose GUP CPU crashed.
vi.mock("../src/run/stress.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/run/stress.js")>();
  return {
    ...real,
    runStress: async () => ({
      aborted: "CPU 1 (GUP-fast) crash: injected for the test",
      interrupted: null,
      faults: [{ cpu: 1, role: "GUP-fast", kind: "crash", message: "injected", lastStep: "G3" }],
      startupMs: 1,
      durationMs: 1,
      iterations: 0,
      races: 0,
    }),
  };
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false },
  };
}

function oneFaultLine(err: string[], command: string) {
  const text = err.join("");
  const last = text.trim().split("\n").at(-1) ?? "";
  expect(last).toMatch(
    new RegExp(`^gupstress ${command}: harness fault: .*CPU 1 \\(GUP-fast\\) crash: injected`),
  );
  expect(text).not.toMatch(/\n\s+at /);
  expect(text).not.toMatch(/internal error/);
}

describe("a harness fault", () => {
  it("in mutants: exit 3, one line", async () => {
    const c = capture();
    const code = await mutantsCommand(
      ["--only", "g6-live-pmd", "--stress-seconds", "1", "--json"],
      c.io,
    );
    expect(code).toBe(3);
    expect(c.err.join("").trim().split("\n")).toHaveLength(1);
    oneFaultLine(c.err, "mutants");
  });

  it("in bench: exit 3, one line after the progress", async () => {
    const c = capture();
    const dir = mkdtempSync(join(tmpdir(), "gupstress-i12-fault-"));
    const code = await benchCommand(["--quick", "--json", "--quiet", "--out", dir], c.io);
    expect(code).toBe(3);
    expect(c.err.join("").trim().split("\n")).toHaveLength(1);
    oneFaultLine(c.err, "bench");
    expect(c.out).toEqual([]);
  });
});
