// Nothing hangs: a CPU that throws, hangs with interrupts off, or dies in the
// middle of an IPI is named, the others stop, the results so far are printed,
// and the process exits 3 by itself. Ctrl-C and SIGTERM stop at once.

import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI, gupstress } from "./run-cli.js";

function json(stdout: string) {
  return JSON.parse(stdout.trim());
}

describe("faults", () => {
  it("a GUP-fast CPU that throws: message, stack, CPU and role reported; exit 3", () => {
    const t0 = Date.now();
    const r = gupstress([
      "stress",
      "--fix",
      "none",
      "--cpus",
      "2",
      "--time",
      "20",
      "--fault",
      "throw@1:3",
      "--quiet",
      "--json",
    ]);
    expect(r.code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const j = json(r.stdout);
    expect(j.aborted).toMatch(/CPU 1 \(GUP-fast\) crash: injected fault/);
    expect(j.faults[0]).toEqual(
      expect.objectContaining({ cpu: 1, role: "GUP-fast", kind: "crash" }),
    );
    expect(j.faults[0].stack).toMatch(/injectFault/);
    expect(j.iterations).toBeGreaterThan(0); // what was measured before the fault is kept
  });

  it("collapse throws: named as CPU 0 (THP collapse); exit 3", () => {
    const r = gupstress([
      "stress",
      "--fix",
      "ipi",
      "--cpus",
      "2",
      "--time",
      "20",
      "--fault",
      "throw@0:3",
      "--quiet",
    ]);
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/ABORTED: CPU 0 \(THP collapse\) crash: injected fault/);
  });

  it("a CPU that hangs with interrupts off never acks the IPI: named, with its last step, within 2 s of detection", () => {
    const t0 = Date.now();
    const r = gupstress([
      "stress",
      "--fix",
      "ipi",
      "--cpus",
      "2",
      "--time",
      "20",
      "--stall-ms",
      "400",
      "--fault",
      "hang-irqoff@1:3",
      "--quiet",
      "--json",
    ]);
    const wallMs = Date.now() - t0;
    expect(r.code).toBe(3);
    const j = json(r.stdout);
    expect(j.aborted).toMatch(/CPU 1 \(GUP-fast\) .*did not answer CPU 0 .*\(interrupts off\)/);
    expect(j.faults[0].lastStep).toMatch(/^(G\d|IPI|GU)$/);
    // startup + the 400 ms stall bound + at most 2 s to end the run
    expect(wallMs).toBeLessThan(6_000);
  });

  it("a CPU that hangs where nobody waits for it (freerun, no IPIs) is found by the heartbeat watchdog", () => {
    const t0 = Date.now();
    const r = gupstress([
      "stress",
      "--fix",
      "none",
      "--mode",
      "freerun",
      "--cpus",
      "2",
      "--time",
      "20",
      "--stall-ms",
      "400",
      "--fault",
      "hang-irqoff@1:500",
      "--quiet",
      "--json",
    ]);
    expect(r.code).toBe(3);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(json(r.stdout).aborted).toMatch(
      /CPU 1 \(GUP-fast\) stopped answering.*\(interrupts off\)/,
    );
  });

  it("a CPU whose thread dies in the middle of an IPI broadcast: reported, exit 3, no thread left behind", () => {
    const r = gupstress([
      "stress",
      "--fix",
      "ipi",
      "--cpus",
      "3",
      "--time",
      "20",
      "--fault",
      "exit@2:3",
      "--quiet",
      "--json",
    ]);
    expect(r.code).toBe(3);
    const j = json(r.stdout);
    expect(j.faults.some((f: { cpu: number }) => f.cpu === 2)).toBe(true);
    // spawnSync returning at all (with a status, not a timeout signal) shows the process ended by itself
    expect(r.signal).toBeNull();
  });
});

function runUntilSignal(signal: NodeJS.Signals, afterMs: number, args?: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>(
    (resolve) => {
      const child = spawn(process.execPath, [
        CLI,
        ...(args ?? [
          "stress",
          "--fix",
          "recheck",
          "--cpus",
          "2",
          "--time",
          "60",
          "--quiet",
          "--json",
        ]),
      ]);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => {
        stdout += d;
      });
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      let sentAt = 0;
      setTimeout(() => {
        sentAt = Date.now();
        child.kill(signal);
      }, afterMs);
      child.on("exit", (code) => resolve({ code, stdout, stderr, ms: Date.now() - sentAt }));
    },
  );
}

describe("signals", () => {
  it("Ctrl-C (SIGINT) stops at once, prints the results so far, exits 130", async () => {
    const r = await runUntilSignal("SIGINT", 1500);
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(2000);
    const j = json(r.stdout);
    expect(j.interrupted).toBe("SIGINT");
    expect(j.iterations).toBeGreaterThan(0);
  });

  it("SIGTERM: the same, exit 143", async () => {
    const r = await runUntilSignal("SIGTERM", 1500);
    expect(r.code).toBe(143);
    expect(json(r.stdout).interrupted).toBe("SIGTERM");
  });

  it("mutants: Ctrl-C prints the rows so far and exits 130", async () => {
    const r = await runUntilSignal("SIGINT", 2500, ["mutants", "--stress-seconds", "5"]);
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/interrupted by SIGINT: \d+ of \d+ mutants run/);
  });

  it("bench: Ctrl-C exits 130 with one line and saves nothing", async () => {
    const r = await runUntilSignal("SIGINT", 2500, [
      "bench",
      "--quick",
      "--out",
      "/tmp/gupstress-bench-interrupted",
    ]);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted by SIGINT: nothing saved/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
