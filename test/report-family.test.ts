// The report's family section: every scenario x fix through the explorer,
// the bench's figures on the scenario it measured, and "why both": each
// protection linked to the scenario that races without it, drawn.

import { describe, expect, it } from "vitest";
import { familyMarkdown, familyReport, protectionsOf } from "../src/report/family.js";
import { resolveFix, SCENARIOS } from "../src/scenarios/index.js";
import { fixtureResults } from "./bench-fixture.js";

describe("report: the family of scenarios", async () => {
  // 2 ptes: the same verdicts as the explorer's default 3 here, in a fraction of the time
  const f = await familyReport(fixtureResults(), { ptes: 2 });
  if (f === null) throw new Error("not interrupted, so never null");

  it("every scenario x fix, each with the explorer's verdict as declared", () => {
    expect(f.rows).toHaveLength(SCENARIOS.reduce((n, s) => n + s.fixes.length, 0));
    for (const s of SCENARIOS)
      for (const d of s.fixes) {
        const row = f.rows.find((r) => r.scenario === s.name && r.fix === d.name);
        expect(row?.verdict, `${s.name} ${d.name}`).toBe(d.expect);
        expect(row?.complete).toBe(true);
        expect(row?.explored).toBeGreaterThan(0);
      }
  });

  it("the bench's race rate and cost only on the scenario it measured", () => {
    const none = (scenario: string) =>
      f.rows.find((r) => r.scenario === scenario && r.fix === "none");
    expect(none("gup-vs-collapse")?.racesPerMillion).toBe(37_500);
    expect(none("gup-vs-collapse")?.cost).toMatch(/GUP-fast calls\/s/);
    expect(none("gup-vs-mthp-collapse")?.racesPerMillion).toBeNull();
    expect(none("gup-vs-mthp-collapse")?.cost).toBeNull();
  });

  it("protections come from the knobs: what a fix turns on, taken away", () => {
    const upstream = protectionsOf(resolveFix(SCENARIOS[0], "upstream"));
    expect(upstream).toEqual(
      expect.arrayContaining(["ipi=none", "recheckPmd=false", "recheckPte=false"]),
    );
    expect(protectionsOf(resolveFix(SCENARIOS[0], "none"))).not.toContain("recheckPmd=false");
  });

  it("why both: G7 is needed by the mTHP collapse (the ABA), drawn; upstream's protections overlap", () => {
    const g7 = f.needed.find(
      (n) => n.removed === "recheckPte=false" && n.scenario === "gup-vs-mthp-collapse",
    );
    expect(g7?.weakened).toBe("recheck~recheckPte=false");
    expect(g7?.drawing).toMatch(/K10P pmd_populate/);
    expect(g7?.replay).toMatch(/^v2\/gup-vs-mthp-collapse\/recheck~recheckPte=false\//);
    // every protection needed somewhere is needed because the explorer raced without it:
    // each has a drawn counterexample in which a walker read the page table
    // (a dead-table read is FORBIDDEN whether or not the walk returned a page)
    for (const n of f.needed) {
      expect(n.drawing, `${n.scenario} ${n.removed}`).toMatch(/\b(G1|HG1) read/);
      expect(n.replay).toMatch(new RegExp(`^v2/${n.scenario}/`));
    }
    expect(f.overlaps.map((o) => `${o.scenario} ${o.fix}`)).toContain(
      "gup-vs-mthp-collapse upstream",
    );
    const md = familyMarkdown(f);
    expect(md).toMatch(/## Why both/);
    expect(md).toMatch(/\| recheckPte=false \|.*needed: recheck~recheckPte=false races/);
    expect(md).toContain("gupstress explore --replay v2/");
  });
});
