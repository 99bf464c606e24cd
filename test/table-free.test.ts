// gup-vs-table-free: the page-table pool, grace periods from the interrupt
// counters, and the explorer's verdict for every fix and mutant.

import { describe, expect, it } from "vitest";
import { figuresOf, foldVariant } from "../src/bench/suite.js";
import { DEFAULT_EXPLORE, explore, replayTrace } from "../src/explore/explore.js";
import { Cpu } from "../src/kernel/cpu.js";
import { KNOB_DEFAULTS } from "../src/kernel/fixes.js";
import { irqOff, irqOn } from "../src/kernel/irq.js";
import { gpStart, gpWaitingFor, poolSetup, pteAlloc, pteFree } from "../src/kernel/tables.js";
import { CTL, Memory, TABLE, TABLE_FREE, TABLE_USED } from "../src/memory/layout.js";
import type { StressResult } from "../src/run/stress.js";
import { gupVsTableFree } from "../src/scenarios/gup-vs-table-free.js";
import { expectationOf } from "../src/scenarios/index.js";

const SCENARIO = gupVsTableFree.name;
const geo = (tables?: number, bystanders?: number) => ({
  cpus: 2,
  regions: 2,
  ptes: 2,
  frames: 16,
  traceRing: 16,
  tables,
  bystanders,
});

describe("the page-table pool", () => {
  it("adds nothing to the layout unless a scenario asks for tables", () => {
    const plain = new Memory(geo());
    expect(new Memory(geo(undefined, 0)).sab.byteLength).toBe(plain.sab.byteLength);
    expect(new Memory(geo(2)).sab.byteLength).toBeGreaterThan(plain.sab.byteLength);
  });

  it("pte_alloc hands out the table freed last, a new incarnation each time", () => {
    const mem = new Memory(geo(5));
    poolSetup(mem, 2);
    expect(mem.load(mem.table(0, TABLE.state))).toBe(TABLE_USED);
    const a = pteAlloc(mem, 7);
    expect(a).toBeGreaterThanOrEqual(2);
    const inc = mem.load(mem.table(a, TABLE.incarnation));
    pteFree(mem, a);
    expect(mem.load(mem.table(a, TABLE.state))).toBe(TABLE_FREE);
    expect(pteAlloc(mem, 1)).toBe(a);
    expect(mem.load(mem.table(a, TABLE.incarnation))).toBe(inc + 1);
    expect(mem.load(mem.table(a, TABLE.owner))).toBe(1);
    const rest = [pteAlloc(mem, 1), pteAlloc(mem, 1)];
    expect(new Set([a, ...rest]).size).toBe(3);
    expect(pteAlloc(mem, 1)).toBe(-1);
    expect(mem.load(CTL.tableFree)).toBe(-1);
  });

  it("a grace period waits for a CPU that was in an IRQ-off section when it started, bystanders too", () => {
    const mem = new Memory(geo(2, 1));
    const fix = { ...KNOB_DEFAULTS, name: "t", summary: "" };
    const walker = new Cpu(mem, 1, fix, false);
    const bystander = new Cpu(mem, 2, fix, false);
    const snap = new Int32Array(3);
    irqOff(bystander);
    gpStart(mem, 0, snap, 0);
    irqOff(walker); // began after the start: not waited for
    expect(gpWaitingFor(mem, 0, snap, 0, true)).toBe(2);
    expect(gpWaitingFor(mem, 0, snap, 0, false)).toBe(-1);
    irqOn(bystander);
    irqOff(bystander); // left and re-entered: the counter changed
    expect(gpWaitingFor(mem, 0, snap, 0, true)).toBe(-1);
  });
});

describe("explorer verdicts (1 table free, 1 GUP-fast, every walk range)", () => {
  const names = [
    ...gupVsTableFree.fixes.map((f) => f.name),
    ...gupVsTableFree.mutants.map((m) => m.id),
  ];

  it("every fix and mutant gives its expected verdict, complete (1 pte)", () => {
    for (const fix of names) {
      const r = explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix, ptes: 1 });
      expect(r.complete, fix).toBe(true);
      expect(r.verdict, fix).toBe(expectationOf(gupVsTableFree, fix));
      expect(r.outcomes.undeclared.count, fix).toBe(0);
      if (r.verdict === "clean") expect(r.outcomes["backoff-pmd"].count, fix).toBeGreaterThan(0);
    }
  });

  it("pruning is sound here too: the same counts as running every interleaving (1 pte)", () => {
    for (const fix of ["ipi-sync", "sync-rcu"]) {
      const opt = { ...DEFAULT_EXPLORE, scenario: SCENARIO, fix, ptes: 1 };
      const pruned = explore(opt);
      const full = explore({ ...opt, noMemo: true });
      expect(pruned.explored, fix).toBe(full.explored);
      expect(pruned.outcomes, fix).toEqual(full.outcomes);
    }
  });

  it("the re-check alone goes wrong at G3/G5: dead reads and garbage grabs, not wrong pages returned", () => {
    const r = explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix: "recheck", ptes: 2 });
    expect(r.outcomes["dead-table"].count).toBeGreaterThan(0);
    expect(r.outcomes["garbage-grab"].count).toBeGreaterThan(0);
    expect(r.outcomes["wrong-page"].count).toBe(0);
    expect(r.counterexample?.trace.some((s) => s.step === "T5" || s.step === "T6")).toBe(true);
  });

  it("rcu-defer is clean, but not on ppc radix: the deposit scribbles with no sync after the clear", () => {
    const x86 = explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix: "rcu-defer", ptes: 2 });
    const ppc = explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix: "rcu-defer-ppc", ptes: 2 });
    expect(x86.verdict).toBe("clean");
    expect(ppc.verdict).toBe("race");
    expect(ppc.outcomes["garbage-grab"].count).toBeGreaterThan(0);
  });
});

describe("bystanders and the platform programs", () => {
  it("a bystander never matters for table lifetime: targeted IPIs stay clean, all-CPU ones wait for it", () => {
    for (const fix of ["arm64", "x86", "x86-flush-only", "sync-mm", "tf-flush-not-ipi"]) {
      const r = explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix, ptes: 1, bystanders: 1 });
      expect(r.complete, fix).toBe(true);
      expect(r.verdict, fix).toBe(expectationOf(gupVsTableFree, fix));
    }
    // An IPI to every online CPU waits for the bystander's IRQ-off section: more interleavings.
    const all = explore({
      ...DEFAULT_EXPLORE,
      scenario: SCENARIO,
      fix: "arm64",
      ptes: 1,
      bystanders: 1,
    });
    const mm = explore({
      ...DEFAULT_EXPLORE,
      scenario: SCENARIO,
      fix: "sync-mm",
      ptes: 1,
      bystanders: 1,
    });
    const alone = explore({ ...DEFAULT_EXPLORE, scenario: SCENARIO, fix: "arm64", ptes: 1 });
    expect(all.explored).toBeGreaterThan(alone.explored);
    expect(all.bystanders).toBe(1);
    expect(mm.verdict).toBe("clean");
  });

  it("a counterexample with a bystander replays from its string", () => {
    const r = explore({
      ...DEFAULT_EXPLORE,
      scenario: SCENARIO,
      fix: "recheck",
      ptes: 1,
      bystanders: 1,
    });
    expect(r.counterexample?.replay).toMatch(/\/c2b1\/p1\//);
    const again = replayTrace(r.counterexample?.replay ?? "");
    expect(again.outcome).toEqual(r.counterexample?.outcome);
  });
});

describe("the bench's wait per operation", () => {
  const run = (waitNs: number[], cpus = 2): StressResult =>
    ({
      cpus,
      durationMs: 500,
      gupCalls: 1000,
      backoffs: 0,
      fallbacks: 0,
      mutatorOps: { total: 100, committed: 100, aborted: 0, followUps: 0 },
      ipi: { broadcasts: 0, handlerEntries: 0, waitUsTotal: 0 },
      samples: { gupNs: [100, 200, 300], collapseNs: [1000], ipiWaitNs: [], opWaitNs: waitNs },
    }) as unknown as StressResult;

  it("keeps the mutator's wait per free apart from the cost per GUP call, per bystander count", () => {
    const none = [run([0, 0, 0]), run([0, 0, 0])].map(figuresOf);
    const gp = [run([0, 2000, 4000]), run([1000, 2000, 3000])].map(figuresOf);
    const v = foldVariant("sync-rcu", 4, gp, none, 4);
    expect(v.bystanders).toBe(4);
    expect(v.mutatorWaitUs?.p50).toBeCloseTo(2, 10);
    expect(v.gupLatencyNs.p50).toBe(200);
    expect(foldVariant("none", 4, none, none).mutatorWaitUs?.p99).toBe(0);
    expect(foldVariant("none", 2, none, none).bystanders).toBeUndefined();
  });
});
