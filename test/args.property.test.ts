// Random argument lists: a user mistake is always one UsageError line (exit 2
// from the CLI), never a stack trace; a valid list always yields a plan.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/cli/args.js";
import { planStress } from "../src/cli/stress-command.js";
import { gupstress } from "./run-cli.js";

const flag = fc.constantFrom(
  "--fix",
  "--mode",
  "--cpus",
  "--time",
  "--iterations",
  "--seed",
  "--regions",
  "--ptes",
  "--delay",
  "--no-delays",
  "--hold",
  "--stall-ms",
  "--until-race",
  "--no-trace",
  "--expect",
  "--json",
  "--quiet",
  "--bogus",
  "-x",
  "--",
  "--fix=none",
  "--cpus=0",
);
const value = fc.oneof(
  fc.constantFrom(
    "none",
    "ipi",
    "recheck",
    "upstream",
    "kvm-pv-flush",
    "all",
    "lockstep",
    "freerun",
    "race",
    "clean",
  ),
  fc.constantFrom(
    "0",
    "1",
    "2",
    "3",
    "64",
    "65",
    "-1",
    "1.5",
    "1e3",
    "NaN",
    "Infinity",
    "",
    " ",
    "abc",
  ),
  fc.constantFrom("G1=100", "K8=5@0.5", "start=0", "G1=", "Z=1", "G1=1@0", "G1=99999999"),
  fc.string({ maxLength: 6 }),
);
const argv = fc.array(fc.oneof(flag, value), { maxLength: 8 });

describe("random argument lists", () => {
  it("planStress either plans or throws a one-line UsageError", () => {
    fc.assert(
      fc.property(argv, (args) => {
        try {
          const plan = planStress(args);
          expect(plan.configs.length).toBeGreaterThan(0);
          for (const c of plan.configs) {
            expect(c.cpus).toBeGreaterThanOrEqual(2);
            expect(c.cpus).toBeLessThanOrEqual(64);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(UsageError);
          expect((e as Error).message).not.toContain("\n");
          expect((e as Error).message.length).toBeGreaterThan(5);
        }
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it("the CLI turns each of a sample of bad lists into one line on stderr and exit 2", () => {
    const bad: string[][] = [];
    fc.assert(
      fc.property(argv, (args) => {
        try {
          planStress(args);
        } catch {
          if (bad.length < 12) bad.push(args);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
    expect(bad.length).toBeGreaterThan(5);
    for (const args of bad) {
      const r = gupstress(["stress", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
