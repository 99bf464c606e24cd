// Weakened fixes: each one knob away from a real fix, each caught by the
// explorer; the equivalent ones come out clean, and a short stress run
// catches the ones it can.

import { describe, expect, it } from "vitest";
import { mutantsCommand } from "../src/cli/explore-command.js";
import { MUTANTS, runMutants } from "../src/explore/mutants.js";
import { type Fix, findFix } from "../src/kernel/fixes.js";

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), isTTY: false },
  };
}

describe("mutants", () => {
  it("each is a real fix with exactly one knob changed", () => {
    for (const m of MUTANTS) {
      const fix = findFix(m.fix);
      const base = findFix(m.fix.split("~")[0]);
      expect(fix, m.id).toBeDefined();
      expect(base, m.id).toBeDefined();
      const changed = (Object.keys(base as Fix) as (keyof Fix)[]).filter(
        (k) => k !== "name" && (fix as Fix)[k] !== (base as Fix)[k],
      );
      expect(changed, m.id).toHaveLength(1);
    }
  });

  it("findFix refuses knobs and values that do not exist", () => {
    expect(findFix("recheck~noSuchKnob=true")).toBeUndefined();
    expect(findFix("recheck~recheckPmd=maybe")).toBeUndefined();
    expect(findFix("nosuch~recheckPmd=true")).toBeUndefined();
    expect(findFix("ipi~ipi=some")).toBeUndefined();
  });

  it("the explorer catches every killable mutant and finds every equivalent one clean", async () => {
    const rows = await runMutants({ ptes: 3, stressSeconds: 0, seed: 1 });
    expect(rows).toHaveLength(MUTANTS.length);
    for (const r of rows) {
      expect(r.ok, r.id).toBe(true);
      expect(r.explorer.complete, r.id).toBe(true);
      if (r.expected === "caught") {
        expect(r.explorer.caught, r.id).toBe(true);
        expect(r.explorer.replay, r.id).toMatch(/^v1\//);
      } else expect(r.explorer.violations, r.id).toBe(0);
      expect(r.stress).toBeNull();
    }
    expect(rows.filter((r) => r.expected === "caught").length).toBeGreaterThanOrEqual(7);
  });

  it("a short stress run catches the mutants that open a wide window", async () => {
    const rows = await runMutants({
      ptes: 3,
      // stops at the first race: usually within 100 ms, the bound is for a loaded machine
      stressSeconds: 10,
      seed: 1,
      only: ["ipi-irq-off", "k6-before-k4"],
    });
    for (const r of rows) {
      expect(r.stress?.caught, r.id).toBe(true);
      expect(r.stress?.firstRaceMs, r.id).not.toBeNull();
    }
  });

  it("gupstress mutants --json: one object, exit 0 when every mutant is as expected", async () => {
    const t = io();
    const code = await mutantsCommand(
      ["--only", "g6-live-pmd", "--only", "g7-dropped", "--stress-seconds", "0", "--json"],
      t.io,
    );
    expect(code).toBe(0);
    const body = JSON.parse(t.out.join(""));
    expect(body.ok).toBe(true);
    expect(body.mutants.map((m: { id: string }) => m.id)).toEqual(["g6-live-pmd", "g7-dropped"]);
    expect(body.caughtByExplorer).toBe(1);
    expect(body.equivalent).toBe(1);
  });

  it("bad input: one line on stderr, exit 2", async () => {
    const t = io();
    expect(await mutantsCommand(["--only", "nosuch"], t.io)).toBe(2);
    expect(t.err.join("").trim().split("\n")).toHaveLength(1);
    expect(t.out).toEqual([]);
  });
});
