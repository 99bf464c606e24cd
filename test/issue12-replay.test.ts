// Issue 12, item 1: a replay string's repeat counts are bounded before they are expanded.

import { describe, expect, it } from "vitest";
import { decodeSchedule, MAX_SCHEDULE_ACTIONS } from "../src/explore/scheduler.js";
import { gupstress } from "./run-cli.js";

describe("replay schedule length", () => {
  it("a huge repeat count throws at once instead of expanding", () => {
    const t0 = Date.now();
    expect(() => decodeSchedule("A2000000000")).toThrow(/more than 1,000,000 actions/);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it("the bound is on the total, not on each run", () => {
    const half = MAX_SCHEDULE_ACTIONS / 2;
    expect(() => decodeSchedule(`A${half}B${half}a`)).toThrow(/more than/);
    expect(decodeSchedule(`A${half}B${half}`)).toHaveLength(MAX_SCHEDULE_ACTIONS);
  });

  it("explore --replay with a huge count: one line, exit 2, at once", () => {
    const t0 = Date.now();
    const r = gupstress(["explore", "--replay", "v1/none/c2/p3/A2000000000"], 20_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/more than 1,000,000 actions/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
  });
});
