// Weakened fixes: each one knob away from a real fix, each caught by the
// explorer; the equivalent ones come out clean, and a short stress run
// catches the ones it can.

import { describe, expect, it } from "vitest";
import { caughtInText, mutantsCommand } from "../src/cli/explore-command.js";
import { allMutants, type MutantRow, runMutants, sameWeakening } from "../src/explore/mutants.js";
import { type Fix, parseFix } from "../src/kernel/fixes.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";
import type { Scenario } from "../src/scenarios/scenario.js";

const MUTANTS = allMutants().map((m) => m.mutant);
const findFix = (name: string, scenario: Scenario = gupVsCollapse) => {
  const f = parseFix(scenario.fixes, name);
  return typeof f === "string" ? undefined : f;
};

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
    for (const { scenario, mutant: m } of allMutants()) {
      const fix = findFix(m.fix, scenario);
      const base = findFix(m.fix.split("~")[0], scenario);
      expect(fix, m.id).toBeDefined();
      expect(base, m.id).toBeDefined();
      const changed = (Object.keys(base as Fix) as (keyof Fix)[]).filter(
        (k) => k !== "name" && k !== "summary" && (fix as Fix)[k] !== (base as Fix)[k],
      );
      expect(changed, m.id).toHaveLength(1);
    }
  });

  it("parseFix refuses knobs and values that do not exist, and says why", () => {
    expect(parseFix(gupVsCollapse.fixes, "recheck~noSuchKnob=true")).toMatch(/unknown knob/);
    expect(parseFix(gupVsCollapse.fixes, "nosuch")).toMatch(/unknown fix/);
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
        expect(r.explorer.replay, r.id).toMatch(new RegExp(`^v2/${r.scenario}/`));
      } else expect(r.explorer.violations, r.id).toBe(0);
      expect(r.stress).toBeNull();
    }
    expect(rows.filter((r) => r.expected === "caught").length).toBeGreaterThanOrEqual(7);
    // The same table coming back (the split) is what kills fix 2 without G7, and
    // a walk that starts past page 0 is what kills a collapse that checks one page.
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId["g7-dropped"].explorer.caught).toBe(true);
    expect(byId["k6-first-page-only"].explorer.caught).toBe(true);
    expect(byId["k6-first-page-only"].explorer.replay).not.toMatch(/\/w0\+3\//);
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
      ["--only", "g6-live-pmd", "--only", "upstream-no-wait", "--stress-seconds", "0", "--json"],
      t.io,
    );
    expect(code).toBe(0);
    const body = JSON.parse(t.out.join(""));
    expect(body.ok).toBe(true);
    expect(body.mutants.map((m: { id: string }) => m.id)).toEqual([
      "g6-live-pmd",
      "upstream-no-wait",
    ]);
    expect(body.caughtByExplorer).toBe(1);
    expect(body.equivalent).toBe(1);
  });

  it("bad input: one line on stderr, exit 2", async () => {
    const t = io();
    expect(await mutantsCommand(["--only", "nosuch"], t.io)).toBe(2);
    expect(t.err.join("").trim().split("\n")).toHaveLength(1);
    expect(t.out).toEqual([]);
  });

  it("the same weakening across scenarios is matched by knobs, never by names", () => {
    const scenario = (name: string, fixes: object[], mutants: object[]) =>
      ({ name, fixes, mutants }) as unknown as Scenario;
    const fix = (name: string, knobs: object) => ({
      name,
      summary: name,
      expect: "clean",
      minCpus: 2,
      knobs,
    });
    const a = scenario(
      "a",
      [fix("none", {}), fix("both", { recheckPmd: true })],
      [{ id: "a-no-g7", fix: "both~recheckPte=false", text: "", equivalent: "why" }],
    );
    // b calls the same knobs "g6", and declares the same weakening as a mutant
    const b = scenario(
      "b",
      [fix("g6", { recheckPmd: true })],
      [{ id: "b-no-g7", fix: "g6~recheckPte=false", text: "" }],
    );
    // c has a fix called "both" with other knobs: no match
    const c = scenario("c", [fix("both", { ipi: "all" })], []);
    // d has the knobs but does not declare the weakening
    const d = scenario("d", [fix("x", { ipi: "none" }), fix("y", { recheckPmd: true })], []);
    const got = sameWeakening(a, a.mutants[0], [a, b, c, d]);
    expect(got.map((g) => [g.scenario.name, g.fix, g.mutant?.id ?? null])).toEqual([
      ["b", "g6~recheckPte=false", "b-no-g7"],
      ["d", "y~recheckPte=false", null],
    ]);
    // a mutant without a weakening, or whose base no other scenario has, matches nothing
    expect(sameWeakening(b, { id: "z", fix: "g6", text: "" }, [a, b])).toEqual([]);
    expect(sameWeakening(c, { id: "z", fix: "both~ipiWait=false", text: "" }, [a, b, c])).toEqual(
      [],
    );
  });

  it("mutants: the caught-in column names the scenario that catches the weakening, or says nowhere", async () => {
    const rows = await runMutants({
      ptes: 3,
      stressSeconds: 0,
      seed: 1,
      only: ["g7-dropped", "upstream-no-wait"],
    });
    const by = Object.fromEntries(rows.map((r) => [r.id, r]));
    // killable: here, and where another scenario declares it killable
    const g7 = by["g7-dropped"].caughtIn;
    expect(g7[0]).toMatchObject({ scenario: "gup-vs-collapse", how: "explored", caught: true });
    expect(g7.map((c) => c.scenario)).toContain("gup-vs-mthp-collapse");
    expect(caughtInText(by["g7-dropped"])).toMatch(/^here, gup-vs-mthp-collapse/);
    // equivalent: every other scenario with the same fix explores the same weakening
    const eq = by["upstream-no-wait"].caughtIn;
    expect(eq.length).toBeGreaterThan(0);
    for (const c of eq) {
      expect(c.how).toBe("explored");
      expect(c.scenario).not.toBe("gup-vs-collapse");
      expect(c.fix).toMatch(/~ipiWait=false$/);
      expect(c.explored).toBeGreaterThan(0);
    }
    if (eq.every((c) => !c.caught))
      expect(caughtInText(by["upstream-no-wait"])).toMatch(/^nowhere/);
    // a row caught elsewhere says where
    const elsewhere: MutantRow = {
      ...by["upstream-no-wait"],
      caughtIn: [{ ...eq[0], scenario: "other", caught: true, mutant: "other-id" }],
    };
    expect(caughtInText(elsewhere)).toBe("other (other-id)");
  });
});
