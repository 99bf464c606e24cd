// gup-vs-split (c24d37322548): the compound-head race driven by hand, every
// variant's verdict over the whole default space, and a bounded stress run.

import { describe, expect, it } from "vitest";
import { DEFAULT_EXPLORE, explore } from "../src/explore/explore.js";
import { Cpu } from "../src/kernel/cpu.js";
import { type GupWalk, gupFastStep, WALK } from "../src/kernel/gup.js";
import { ipiTake } from "../src/kernel/irq.js";
import { SPLIT, type Split, splitNext, splitStep } from "../src/kernel/split.js";
import { stepName } from "../src/kernel/steps.js";
import { FRAME, Memory, REGION } from "../src/memory/layout.js";
import { defaultConfig } from "../src/run/config.js";
import { runStress } from "../src/run/stress.js";
import { gupVsSplit } from "../src/scenarios/gup-vs-split.js";
import { resolveFix } from "../src/scenarios/index.js";

const S = gupVsSplit;

/** One region of `ptes` pages as a pte-mapped THP, a split CPU and a GUP-fast CPU. */
function splitLab(fixName: string, ptes = 3, first = 1, count = 1) {
  const fix = resolveFix(S, fixName);
  const frames = S.frames({ cpus: 2, regions: 1, ptes, heldWalks: 1 });
  const mem = new Memory({ cpus: 2, regions: 1, ptes, frames, traceRing: 256 });
  S.setup(mem);
  const k = new Cpu(mem, 0, fix);
  const g = new Cpu(mem, 1, fix);
  const walk = S.walker.create(ptes) as GupWalk;
  S.walker.start(walk, 0, first, count);
  const op = S.mutator.create(k) as Split;
  S.mutator.start(k, op, 0, 0);
  return {
    mem,
    walk,
    op,
    g,
    G(...names: string[]) {
      for (const name of names) {
        expect(stepName(walk.pc)).toBe(name);
        gupFastStep(g, walk);
      }
    },
    K(...names: string[]) {
      for (const name of names) {
        expect(stepName(splitNext(op))).toBe(name);
        splitStep(k, op);
      }
    },
    grade() {
      const v = S.walker.grade(mem, walk, 1);
      return { key: S.outcomes[v.outcome].key, confirmed: v.confirmed };
    },
  };
}

/** The split after its unmap, without a flush IPI: the zap of page 0 (S8) frees its page at S8R. */
const SPLIT_BODY = ["S3", "S4", "S5", "S6", "S7", "S8", "S8R", "S9"];

describe("gup-vs-split by hand", () => {
  it("none: the head read before the split, the grab after the head's reuse: the ref lands on another allocation's page, G7 passes", () => {
    const l = splitLab("none");
    l.G("G0", "G1", "G2", "G3", "GH");
    const head = l.walk.folio;
    l.K("S0", "S1", ...SPLIT_BODY);
    expect(l.op.result).toBe(SPLIT.SPLIT);
    // the former head is now an order-0 page of someone else
    expect(l.mem.load(l.mem.frame(head, FRAME.order))).toBe(1);
    expect(l.mem.load(l.mem.frame(head, FRAME.region))).toBe(-1);
    l.G("GG", "G7", "G8", "G9");
    expect(l.walk.result).toBe(WALK.PINNED);
    const f = l.walk.frames[0];
    expect(f).not.toBe(head);
    expect(l.mem.load(l.mem.frame(f, FRAME.head))).toBe(f);
    // The data: the reference sits on the other page, and unpin_user_page(f)
    // (page_folio(f) = f) would take f's refcount below zero.
    expect(l.mem.load(l.mem.frame(head, FRAME.refcount))).toBe(1 + l.walk.bias);
    expect(l.mem.load(l.mem.frame(f, FRAME.refcount)) - l.walk.bias).toBeLessThan(0);
    expect(l.grade()).toEqual({ key: "wrong-head", confirmed: true });
  });

  it("recheck: the same interleaving backs off at GR", () => {
    const l = splitLab("recheck");
    l.G("G0", "G1", "G2", "G3", "GH");
    l.K("S0", "S1", ...SPLIT_BODY);
    l.G("GG", "GR", "G9");
    expect(l.walk.result).toBe(WALK.BACKOFF_HEAD);
    expect(l.grade().key).toBe("backoff-head");
  });

  it("ipi: the flush waits for the IRQ-off walker, whose pin then makes the freeze fail", () => {
    const l = splitLab("ipi");
    l.G("G0", "G1", "G2", "G3", "GH");
    l.K("S0", "S1", "S2");
    expect(splitStep(new Cpu(l.mem, 0, resolveFix(S, "ipi")), l.op)).toBe(-1); // S2W: blocked
    l.G("GG", "G7"); // the pte is a migration entry now: back off
    expect(l.walk.result).toBe(WALK.BACKOFF_PTE);
    l.G("G9");
    expect(l.grade().key).toBe("backoff-pte");
  });

  it("ipi without G7: the zap's flush waits for the walker that read page 0, which pins the page before the gather frees it", () => {
    const l = splitLab("ipi~recheckPte=false", 3, 0, 1);
    const k = new Cpu(l.mem, 0, resolveFix(S, "ipi~recheckPte=false"));
    l.K("S0", "S1", "S2");
    expect(ipiTake(l.g)).toBe(true); // interrupts on: the unmap's flush acked
    l.K("S2W", "S3", "S4", "S5", "S6", "S7");
    l.G("G0", "G1", "G2", "G3", "GH");
    const head = l.walk.folio;
    l.K("S8", "S8F");
    // The page is gathered: off the pte, its mapping's reference still held.
    expect(l.mem.load(l.mem.pte(0, 0))).toBe(0);
    expect(l.mem.load(l.mem.frame(head, FRAME.refcount))).toBe(1);
    expect(splitStep(k, l.op)).toBe(-1); // S8W: the walker has interrupts off
    expect(ipiTake(l.g)).toBe(false);
    l.G("GG", "G8", "G9");
    expect(ipiTake(l.g)).toBe(true);
    l.K("S8W", "S8R", "S9");
    // The walker's pin kept the page: not freed, not reused, still the process's page 0.
    expect(l.mem.load(l.mem.region(0, REGION.other))).toBe(-1);
    expect(l.mem.load(l.mem.frame(head, FRAME.refcount))).toBe(l.walk.bias);
    expect(l.grade().key).toBe("pinned");
  });

  it("a pin taken before the freeze aborts the split: the same subpages come back, still one folio", () => {
    const l = splitLab("none", 3, 0, 3);
    l.G("G0", "G1", "G2", "G3", "GH", "GG", "G7", "G8");
    l.K("S0", "S1", "S3", "SA");
    expect(l.op.result).toBe(SPLIT.ABORTED_PIN);
    const h = l.walk.folios[0];
    expect(l.mem.load(l.mem.frame(h, FRAME.order))).toBe(3);
    for (let j = 0; j < 3; j++) expect(l.mem.load(l.mem.frame(h + j, FRAME.head))).toBe(h);
  });
});

describe("gup-vs-split explored", () => {
  it("every variant gives its verdict over the whole default space", () => {
    for (const decl of S.fixes) {
      const r = explore({ ...DEFAULT_EXPLORE, scenario: S.name, fix: decl.name });
      expect(r.complete, decl.name).toBe(true);
      expect(r.verdict, decl.name).toBe(decl.expect);
      if (decl.expect === "race") {
        expect(r.outcomes["wrong-head"].count, decl.name).toBe(r.violations);
        expect(r.counterexample?.outcome).toContain("wrong-head");
      }
      // The huge-pmd leaf path is reached (between the refault and its pmd split).
      expect(
        r.outcomes["pinned-huge"].count + r.outcomes["backoff-pmd-leaf"].count,
      ).toBeGreaterThan(0);
      if (decl.name === "recheck") expect(r.outcomes["backoff-head"].count).toBeGreaterThan(0);
      if (decl.name === "ipi") expect(r.outcomes["split-aborted-pin"].count).toBeGreaterThan(0);
    }
  });

  it("kvm-pv-flush races only through a host preemption", () => {
    const r = explore({
      ...DEFAULT_EXPLORE,
      scenario: S.name,
      fix: "kvm-pv-flush",
      hostPreemptions: 0,
    });
    expect(r.complete).toBe(true);
    expect(r.violations).toBe(0);
  });
});

describe("gup-vs-split on threads", () => {
  const run = (fix: string, over: object) =>
    runStress({ ...defaultConfig(S.name), fix, cpus: 2, seed: 3, timeMs: 30_000, ...over });

  it("none races (every race confirmed by the refcount), recheck does not", async () => {
    const racy = await run("none", { iterations: 2_000_000, untilRace: true });
    expect(racy.aborted).toBeNull();
    expect(racy.races).toBeGreaterThan(0);
    expect(racy.outcomes["wrong-head"].count).toBe(racy.races);
    const clean = await run("recheck", { iterations: 2000 });
    expect(clean.aborted).toBeNull();
    expect(clean.iterations).toBeGreaterThanOrEqual(2000);
    expect(clean.races).toBe(0);
  });
});
