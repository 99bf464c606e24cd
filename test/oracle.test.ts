// The oracle on constructed states: it reports a race only for a pin that
// outlived a committed collapse, whatever the fix, and never for the rest.

import { describe, expect, it } from "vitest";
import { populateRegion } from "../src/kernel/frames.js";
import { unpinStep } from "../src/kernel/gup.js";
import { STAT } from "../src/memory/layout.js";
import {
  gradeWalk,
  OUTCOME_KEYS,
  OUTCOMES,
  outcomeOfStat,
} from "../src/scenarios/gup-vs-collapse.js";
import { lab } from "./lab.js";

const collapseAll = (l: ReturnType<typeof lab>) => {
  for (const s of ["K0", "K1", "K2", "K4", "K6", "K8", "K9", "K10", "K11"]) l.K(s);
};

describe("the oracle", () => {
  it("declares every outcome with a grade; the stale pin and the undeclared are FORBIDDEN", () => {
    expect(new Set(OUTCOME_KEYS).size).toBe(OUTCOMES.length);
    const forbidden = OUTCOMES.filter((o) => o.grade === "FORBIDDEN").map((o) => o.key);
    expect(forbidden.sort()).toEqual(["stale-pin", "undeclared"]);
    expect(outcomeOfStat(STAT.races)?.key).toBe("stale-pin");
  });

  it("a walk that pinned before the collapse started: collapse aborts at K0, no race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K0");
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.outcomePinned);
  });

  it("a pin taken before K6: collapse aborts at K6 and restores the pmd, no race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4"]) l.K(s);
    for (const s of ["G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K6");
    l.K("K7");
    const pmdBefore = l.collapse.oldPmd;
    expect(l.mem.load(l.mem.pmd(0))).toBe(pmdBefore);
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.outcomePinned);
  });

  it("a pin dropped before the commit is no race, even though collapse then released the page", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    unpinStep(l.g, l.walk, 0);
    l.walk.nr = 0; // the caller holds nothing any more
    collapseAll(l);
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.outcomePinned);
  });

  it("a walk that found the pmd cleared falls back at G1, no race", () => {
    const l = lab("none");
    for (const s of ["K0", "K1", "K2", "K4"]) l.K(s);
    for (const s of ["G0", "G1", "G9"]) l.G(s);
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.fallbackPmd);
  });

  it("a walk that backed off at G7 holds nothing: no race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K6"]) l.K(s);
    l.G("G5");
    l.K("K8"); // ptep_clear between the pin and the re-check
    l.G("G7");
    l.G("G9");
    for (const s of ["K9", "K10", "K11"]) l.K(s);
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.backoffPte);
  });

  it("a pinned page unmapped by something that is not collapse is allowed by the GUP contract", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    populateRegion(l.mem, 0, 77); // zap and refill: releasedBy = 0
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.outcomePinned);
  });

  it("a stale pin whose collapse has not committed yet is undecided, not a race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K6"]) l.K(s);
    for (const s of ["G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K8");
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(-1);
    for (const s of ["K9", "K10", "K11"]) l.K(s);
    expect(gradeWalk(l.mem, l.walk, 1).stat).toBe(STAT.races);
  });

  it("a record claiming a pin it no longer holds is undeclared (FORBIDDEN), not silently clean", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    unpinStep(l.g, l.walk, 0);
    const v = gradeWalk(l.mem, l.walk, 1);
    expect(v.stat).toBe(STAT.undeclared);
    expect(v.detail).toMatch(/lost its pin/);
  });
});
