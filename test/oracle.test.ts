// The oracle on constructed states: it reports a race only for a pin that
// outlived a committed collapse (or a page of another address), whatever the
// fix, and never for the rest.

import { describe, expect, it } from "vitest";
import { COLLAPSE } from "../src/kernel/collapse.js";
import { unpinStep } from "../src/kernel/gup.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";
import { collapseSteps, lab } from "./lab.js";

const collapseAll = (l: ReturnType<typeof lab>, ptes = 1) => {
  for (const s of collapseSteps(ptes)) l.K(s);
};

describe("the oracle", () => {
  it("declares every outcome once with a grade; only the races and the undeclared are FORBIDDEN", () => {
    const keys = gupVsCollapse.outcomes.map((o) => o.key);
    expect(new Set(keys).size).toBe(keys.length);
    const forbidden = gupVsCollapse.outcomes.filter((o) => o.grade === "FORBIDDEN");
    expect(forbidden.map((o) => o.key).sort()).toEqual(["stale-pin", "undeclared", "wrong-page"]);
    expect(forbidden.filter((o) => o.tag === "race").map((o) => o.key)).toEqual([
      "stale-pin",
      "wrong-page",
    ]);
    expect(gupVsCollapse.outcomes.some((o) => o.window)).toBe(true);
  });

  it("a walk that pinned before the collapse started: collapse aborts at K0, no race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K0");
    expect(l.grade()).toBe("pinned");
  });

  it("a pin taken before K6: collapse aborts at K6 and puts the same pmd value back, no race", () => {
    const l = lab("none");
    const before = l.mem.load(l.mem.pmd(0));
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4"]) l.K(s);
    for (const s of ["G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K6");
    l.K("K7");
    expect(l.mem.load(l.mem.pmd(0))).toBe(before);
    expect(l.grade()).toBe("pinned");
  });

  it("a pin dropped before the commit is no race, even though collapse then released the page", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    unpinStep(l.g, l.walk, 0);
    l.walk.nr = 0; // the caller holds nothing any more
    collapseAll(l);
    expect(l.grade()).toBe("pinned");
  });

  it("a walk that found the pmd cleared falls back at G1, no race", () => {
    const l = lab("none");
    for (const s of ["K0", "K1", "K2", "K4"]) l.K(s);
    for (const s of ["G0", "G1", "G9"]) l.G(s);
    expect(l.grade()).toBe("fallback-pmd");
  });

  it("a walk that backed off at G7 holds nothing: no race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K6", "K8"]) l.K(s);
    l.G("G5");
    l.K("K8F"); // ptep_clear between the pin and the re-check
    l.G("G7");
    l.G("G9");
    for (const s of ["K9", "K10", "K11"]) l.K(s);
    expect(l.grade()).toBe("backoff-pte");
  });

  it("a huge pmd is pinned in the fast path (G5H, G6H) and those pages stay mapped through the split", () => {
    const l = lab("none", 2);
    collapseAll(l, 2);
    for (const s of ["G0", "G1", "G5H", "G6H", "G9"]) l.G(s);
    expect(l.walk.nr).toBe(2);
    expect(l.grade()).toBe("pinned-huge");
    l.op(1);
    l.K("KS0");
    l.K("KS");
    expect(l.grade()).toBe("pinned-huge");
  });

  it("a huge pmd split between the folio pin and its re-check: back off at G6H", () => {
    const l = lab("none", 2);
    collapseAll(l, 2);
    for (const s of ["G0", "G1", "G5H"]) l.G(s);
    l.op(1);
    l.K("KS0");
    l.G("G6H");
    l.G("G9");
    expect(l.walk.nr).toBe(0);
    expect(l.grade()).toBe("backoff-pmd-leaf");
  });

  it("a failed copy (copy_mc) puts the same table back with the same pmd value: the pin stays good", () => {
    const l = lab("none~copyFails=true", 2);
    const before = l.mem.load(l.mem.pmd(0));
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K6", "K6", "K8"]) l.K(s);
    for (const s of ["G5", "G7", "G8", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K8"); // the copy of the last page fails
    l.K("K7");
    expect(l.collapse.result).toBe(COLLAPSE.ABORTED_COPY);
    expect(l.mem.load(l.mem.pmd(0))).toBe(before);
    expect(l.grade()).toBe("pinned");
  });

  it("a stale pin whose collapse has not committed yet is undecided, not a race", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K6", "K8"]) l.K(s);
    for (const s of ["G5", "G7", "G8", "G9"]) l.G(s);
    l.K("K8F");
    expect(l.grade()).toBe("pending");
    for (const s of ["K9", "K10", "K11"]) l.K(s);
    expect(l.grade()).toBe("stale-pin");
  });

  it("a page of another address is a wrong page, confirmed by data", () => {
    const l = lab("none", 2, 2, 0, 1);
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    // The walk claims the page it pinned is page 1 of the region: the oracle checks the index too.
    l.walk.indexes[0] = 1;
    const v = gupVsCollapse.walker.grade(l.mem, l.walk, 1);
    expect(gupVsCollapse.outcomes[v.outcome].key).toBe("wrong-page");
    expect(v.confirmed).toBe(true);
  });

  it("a record claiming a pin it no longer holds is undeclared (FORBIDDEN), not silently clean", () => {
    const l = lab("none");
    for (const s of ["G0", "G1", "G2", "G3", "G5", "G7", "G8", "G9"]) l.G(s);
    unpinStep(l.g, l.walk, 0);
    const v = gupVsCollapse.walker.grade(l.mem, l.walk, 1);
    expect(gupVsCollapse.outcomes[v.outcome].key).toBe("undeclared");
    expect(v.detail).toMatch(/lost its pin/);
  });
});
