// Issue 12, item 11: more --delay flags at one point than a worker can carry
// (LEVELS) is a usage error, not a fault in every worker.

import { describe, expect, it } from "vitest";
import { UsageError } from "../src/cli/args.js";
import { planStress } from "../src/cli/stress-command.js";
import { LEVELS } from "../src/run/delay.js";
import { gupstress } from "./run-cli.js";

const delays = (point: string, n: number) =>
  Array.from({ length: n }, (_, i) => ["--delay", `${point}=${100 + i}`]).flat();

describe("delays per point", () => {
  it(`${LEVELS} at one point are accepted, ${LEVELS + 1} are not`, () => {
    expect(
      planStress(delays("G1", LEVELS)).configs[0].delays.filter(
        (d) => d.point === "G1" && d.preempt !== true,
      ),
    ).toHaveLength(LEVELS);
    expect(() => planStress(delays("G1", LEVELS + 1))).toThrow(UsageError);
    expect(() => planStress(["--no-delays", ...delays("K8", LEVELS + 1)])).toThrow(
      /4 delays at K8, at most 3 per point/,
    );
  });

  it("the CLI: one line, exit 2, nothing run", () => {
    const r = gupstress(["stress", "--fix", "none", "--time", "1", ...delays("G1", 4)], 20_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--delay: 4 delays at G1, at most 3 per point/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
  });
});
