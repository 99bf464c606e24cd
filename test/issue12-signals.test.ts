// Issue 12, item 3: nothing blocks the main thread for long while our signal
// handlers are installed, so every command stops within about a second of
// Ctrl-C; a results file that could block (a device, a FIFO) is refused.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, gupstress } from "./run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "gupstress-i12-sig-"));

function oneLine(r: { code: number | null; stdout: string; stderr: string }) {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe("");
}

describe("report --in a file that would block the main thread", () => {
  it("/dev/zero: a usage error at once", () => {
    const t0 = Date.now();
    const r = gupstress(["report", "--in", "/dev/zero", "--out", tmp], 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    oneLine(r);
    expect(r.stderr).toMatch(/not a regular file/);
  });

  it("a FIFO with no writer: a usage error at once", () => {
    const fifo = join(tmp, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const t0 = Date.now();
    const r = gupstress(["report", "--in", fifo, "--out", tmp], 10_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    oneLine(r);
    expect(r.stderr).toMatch(/not a regular file/);
  });
});

function interrupt(args: string[], signal: NodeJS.Signals, afterMs: number) {
  return new Promise<{ code: number | null; ms: number; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.stdout.resume();
    let sentAt = 0;
    setTimeout(() => {
      sentAt = Date.now();
      child.kill(signal);
    }, afterMs);
    child.on("exit", (code) => resolve({ code, ms: Date.now() - sentAt, stderr }));
  });
}

// The requirement is 1 s; the margin is for a loaded 2-core test machine.
const WITHIN_MS = 1500;

describe("Ctrl-C is heard at once", () => {
  it("mutants with no stress (a synchronous explorer per mutant): exit 130", async () => {
    const r = await interrupt(
      ["mutants", "--ptes", "8", "--stress-seconds", "0", "--json"],
      "SIGINT",
      600,
    );
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(WITHIN_MS);
  });

  it("mutants, SIGTERM: exit 143", async () => {
    const r = await interrupt(["mutants", "--ptes", "8", "--stress-seconds", "0"], "SIGTERM", 600);
    expect(r.code).toBe(143);
    expect(r.ms).toBeLessThan(WITHIN_MS);
  });

  it("bench during its single-thread micro measurements: exit 130", async () => {
    const r = await interrupt(["bench", "--quick", "--out", join(tmp, "bench")], "SIGINT", 700);
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(WITHIN_MS);
    expect(r.stderr).toMatch(/interrupted by SIGINT/);
  });
});
