// Scenario: GUP-fast against THP collapse (docs/model.md, "The race" and
// "What counts as a race"). The mutator collapses a region's small pages into
// a huge page (K0..K11), then splits it back into the same table (KS0, KS);
// the walkers pin ranges of its pages. The oracle grades each walk from
// memory alone, pins still held: it never sees which fix is running.

import {
  COLLAPSE,
  type Collapse,
  collapseDone,
  collapseNext,
  collapseStep,
  newCollapse,
  startCollapse,
} from "../kernel/collapse.js";
import { setupRegion } from "../kernel/frames.js";
import { type GupWalk, gupFastStep, newWalk, startWalk, unpinAll, WALK } from "../kernel/gup.js";
import { allAcked } from "../kernel/irq.js";
import { DONE, STEP } from "../kernel/steps.js";
import type { Memory } from "../memory/layout.js";
import {
  allCpus,
  CTL,
  FRAME,
  FRAME_MAPPED,
  PMD_HUGE,
  PMD_TABLE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
  REGION,
} from "../memory/layout.js";
import {
  type OutcomeDecl,
  outcomeIndex,
  type Scenario,
  UNDECLARED_OUTCOME,
  type Verdict,
  verdictOf,
} from "./scenario.js";

const OUTCOMES: readonly OutcomeDecl[] = [
  {
    key: "stale-pin",
    grade: "FORBIDDEN",
    actor: "walker",
    tag: "race",
    text: "GUP-fast returned a page that a committed collapse released",
  },
  {
    key: "wrong-page",
    grade: "FORBIDDEN",
    actor: "walker",
    tag: "race",
    text: "GUP-fast returned a page that belongs to another address",
  },
  {
    key: "pinned",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "pinned",
    text: "every page pinned, all still mapped",
  },
  {
    key: "pinned-huge",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "pinned",
    text: "every page pinned through a huge pmd (gup_fast_pmd_leaf)",
  },
  {
    key: "backoff-pmd",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G6: pmd changed after the pin",
  },
  {
    key: "backoff-pmd-leaf",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G6H: the huge pmd changed after the folio was pinned",
  },
  {
    key: "backoff-pte",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G7: pte changed after the pin",
  },
  {
    key: "fallback-pmd",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "no pmd at G1 (cleared by collapse or split): slow path",
  },
  {
    key: "fallback-pte",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "pte not present at G3: slow path",
  },
  {
    key: "fallback-grab",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "refcount zero at G5 (page being freed): slow path",
  },
  {
    key: "collapse-committed",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "committed",
    text: "collapse installed the huge pmd (K10)",
  },
  {
    key: "collapse-aborted-scan",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "collapse not tried: the K0 scan saw a pinned or missing page",
  },
  {
    key: "collapse-aborted-pin",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "mutator",
    tag: "aborted",
    window: true,
    text: "collapse aborted by a pin at K6, same table put back (K7)",
  },
  {
    key: "collapse-aborted-copy",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "copy_mc failed at K8, same table put back (K7)",
  },
  {
    key: "collapse-aborted-alloc",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "no free huge page at K1 (alloc_charge_hpage failed)",
  },
  {
    key: "thp-split",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "follow-up",
    text: "the huge pmd split back into the same table (KS)",
  },
  UNDECLARED_OUTCOME,
];

const O = (key: string): number => outcomeIndex({ outcomes: OUTCOMES }, key);
const STALE = O("stale-pin");
const WRONG = O("wrong-page");
const UNDECLARED = O("undeclared");

const WALK_OUTCOME: Record<number, number> = {
  [WALK.PINNED]: O("pinned"),
  [WALK.PINNED_HUGE]: O("pinned-huge"),
  [WALK.BACKOFF_PMD]: O("backoff-pmd"),
  [WALK.BACKOFF_LEAF]: O("backoff-pmd-leaf"),
  [WALK.BACKOFF_PTE]: O("backoff-pte"),
  [WALK.FALLBACK_PMD]: O("fallback-pmd"),
  [WALK.FALLBACK_PTE]: O("fallback-pte"),
  [WALK.FALLBACK_GRAB]: O("fallback-grab"),
};

const COLLAPSE_OUTCOME: Record<number, number> = {
  [COLLAPSE.COMMITTED]: O("collapse-committed"),
  [COLLAPSE.ABORTED_SCAN]: O("collapse-aborted-scan"),
  [COLLAPSE.NOT_TABLE]: O("collapse-aborted-scan"),
  [COLLAPSE.ABORTED_ISOLATE]: O("collapse-aborted-pin"),
  [COLLAPSE.ABORTED_COPY]: O("collapse-aborted-copy"),
  [COLLAPSE.ABORTED_ALLOC]: O("collapse-aborted-alloc"),
  [COLLAPSE.SPLIT]: O("thp-split"),
  [COLLAPSE.IDLE]: -1,
};

/** Where address (region, j) points now: its frame, or -1. */
export function translate(mem: Memory, region: number, j: number): number {
  const pmd = mem.load(mem.pmd(region));
  if (pmdKind(pmd) === PMD_HUGE) return pmdId(pmd) + j;
  if (pmdKind(pmd) !== PMD_TABLE) return -1;
  const pte = mem.load(mem.pte(pmdId(pmd), j));
  return ptePresent(pte) ? pteFrame(pte) : -1;
}

let confirmSerial = 0;

/**
 * Grade one walk whose pins are still held. Every returned page must still be
 * mapped at its own address, or have been unmapped by something the GUP
 * contract allows. A page a committed collapse released is a stale pin; a
 * page that belongs to another address is a wrong page. Each is confirmed the
 * way selftests/mm/cow.c checks pins: write through the current mapping of
 * the address, read through the pin.
 */
export function gradeWalk(mem: Memory, w: GupWalk, writerId: number): Verdict {
  for (let k = 0; k < w.nr; k++) {
    const f = w.frames[k];
    const j = w.indexes[k];
    const head = mem.load(mem.frame(f, FRAME.head));
    const ref = mem.load(mem.frame(head, FRAME.refcount));
    if (ref < w.bias) return undeclared(`frame ${f} lost its pin (refcount ${ref})`);
    const ours =
      mem.load(mem.frame(f, FRAME.region)) === w.region &&
      mem.load(mem.frame(f, FRAME.index)) === j;
    // Still mapped at its address (every mapping sets the frame's ghost
    // address; every unmapping marks it RELEASED first): the pin is fine,
    // and the lines this reads are the pinned frame's own.
    if (ours && mem.load(mem.frame(f, FRAME.state)) === FRAME_MAPPED) continue;
    // A consistent look: no mutator operation began or was in flight on the
    // region while we translated (freerun grades while the mutator runs).
    const opsBefore = mem.load(CTL.opSerial);
    const inFlight = mem.load(mem.region(w.region, REGION.inFlight));
    const now = translate(mem, w.region, j);
    if (now === f) continue;
    if (inFlight !== 0 || mem.load(CTL.opSerial) !== opsBefore) return pending();
    let outcome = STALE;
    if (!ours) outcome = WRONG;
    else {
      const serial = mem.load(mem.frame(f, FRAME.releasedBy));
      const committed = mem.load(mem.region(w.region, REGION.committed));
      if (serial === 0 || committed - serial < 0) {
        return undeclared(
          `${serial === 0 ? `frame ${f} is not mapped at page ${j}, and nothing released it` : `frame ${f} released by operation ${serial}, which never committed`} (${frameText(mem, f)}; page ${j} maps ${now < 0 ? "nothing" : `frame ${now}`}, pmd ${pmdText(mem.load(mem.pmd(w.region)))}, pte ${mem.load(mem.pte(w.region, j))}, walk ${w.result} of pages ${w.start}..${w.end - 1}, op ${mem.load(CTL.opSerial)})`,
        );
      }
    }
    if (now < 0)
      return undeclared(`page ${j} of region ${w.region} maps nothing, no operation in flight`);
    const tag = (0x40000000 | (writerId << 22) | (++confirmSerial & 0x3fffff)) >>> 0;
    mem.store(mem.frameData(now), tag);
    const confirmed = mem.load(mem.frameData(f)) !== (tag | 0);
    if (!confirmed) return undeclared(`frame ${f} is not mapped at page ${j} but sees its writes`);
    return { outcome, frame: f, index: j, confirmed: true, detail: "" };
  }
  const outcome = WALK_OUTCOME[w.result];
  if (outcome === undefined) return undeclared(`walk ended with result ${w.result}`);
  return verdictOf(outcome);
}

function frameText(mem: Memory, f: number): string {
  const head = mem.load(mem.frame(f, FRAME.head));
  const field = (x: number, k: number) => mem.load(mem.frame(x, k));
  return `state ${field(f, FRAME.state)}, head ${head} (ref ${field(head, FRAME.refcount)}, maps ${field(head, FRAME.mapcount)}, order ${field(head, FRAME.order)})`;
}

function undeclared(detail: string): Verdict {
  return verdictOf(UNDECLARED, detail);
}

function pending(): Verdict {
  return verdictOf(-1);
}

/** The data word a fresh small page gets: differs per region. */
export function dataTag(region: number): number {
  return (region & 0x7fff) << 8;
}

const page = (s: { index: number }) => (s.index >= 0 ? ` page ${s.index}` : "");

const pmdText = (v: number): string =>
  v === 0 ? "none" : pmdKind(v) === PMD_HUGE ? `huge, folio ${pmdId(v)}` : `table ${pmdId(v)}`;

function describe(s: { step: string; index: number; frame: number; value: number; text: string }) {
  switch (s.step) {
    case "G1":
      return `G1 read pmd (${pmdText(s.value)})`;
    case "G3":
      return `G3 read pte${page(s)}${s.frame >= 0 ? ` -> frame ${s.frame}` : " (none)"}`;
    case "G5":
      return `G5 pin${page(s)} (frame ${s.frame})${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "G5H":
      return `G5H pin huge folio ${s.frame}${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "G6":
      return `G6 re-check pmd${page(s)} (${pmdText(s.value)})`;
    case "G6H":
      return `G6H re-check huge pmd (${pmdText(s.value)})`;
    case "G7":
      return `G7 re-check pte${page(s)}`;
    case "G8":
      return `G8 return${page(s)}`;
    case "K0":
      return `K0 scan: ${s.value === 1 ? "all present, none pinned" : "pinned or missing"}`;
    case "K4":
      return "K4 pmdp_collapse_flush: clear pmd";
    case "K5":
      return `K5 IPI broadcast to ${s.value} CPU${s.value === 1 ? "" : "s"}`;
    case "K5W":
      return "K5 all acks in";
    case "K6":
      return `K6 isolate${page(s)}: ${s.value < 0 ? "pte none: abort" : s.value > 0 ? `pinned (${s.value} extra refs): abort` : "not pinned"}`;
    case "K7":
      return `K7 abort: pmd_populate the same table (${pmdText(s.value)})`;
    case "K8":
      return `K8 copy${page(s)}${s.value === 0 ? ": copy_mc failed" : ""}`;
    case "K8F":
      return `K8F ptep_clear${page(s)}, release frame ${s.frame}`;
    case "K10":
      return "K10 install huge pmd";
    case "KS0":
      return "KS0 split: pmdp_invalidate";
    case "KS":
      return `KS split: subpages into the same table (${pmdText(s.value)})`;
    case "IPI":
      return "IPI handler (ack)";
    case "HP":
      return "host preempts this vCPU (steal time: PREEMPTED)";
    case "HR":
      return `vCPU runs again${s.value === 1 ? ": a PV flush skipped it, TLB flushed on entry" : ""}`;
    default:
      return `${s.step} ${s.text}`;
  }
}

export const gupVsCollapse: Scenario = {
  name: "gup-vs-collapse",
  summary: "GUP-fast against khugepaged's THP collapse and the split that follows (70cbc3cc78a9)",
  roles: { mutator: "THP collapse", walker: "GUP-fast" },
  fixes: [
    {
      name: "none",
      summary: "no IPI, no G6: arm64 before the fix",
      expect: "race",
      minCpus: 2,
      knobs: {},
    },
    {
      name: "ipi",
      summary: "fix 1: IPI to the GUP CPUs at K5, wait for every ack (ppc hash, x86 native)",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "gup" },
    },
    {
      name: "recheck",
      summary: "fix 2: G6 re-checks the pmd after the pin (70cbc3cc78a9)",
      expect: "clean",
      minCpus: 2,
      knobs: { recheckPmd: true },
    },
    {
      name: "upstream",
      summary: "mainline today: G6, plus an IPI to all CPUs after K4 (2ba99c5e0881)",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "all", recheckPmd: true },
    },
    {
      name: "kvm-pv-flush",
      summary:
        "fix 1 in a KVM guest: the flush skips vCPUs the host preempted (kvm_flush_tlb_multi): races only through a preempted walker",
      expect: "race",
      minCpus: 2,
      knobs: { ipi: "gup", ipiPvFlush: true },
    },
  ],
  // Before host preemption was modelled, "ipi-skip" skipped one target per
  // broadcast whatever it was doing: now the ipi-skip-one mutant.
  renamedFixes: { "ipi-skip": "ipi~ipiSkipOne=true" },
  mutants: [
    {
      id: "g6-live-pmd",
      fix: "recheck~recheckPmdLive=true",
      text: "G6 compares with a live pmd read just before the pin, not the G1 snapshot",
    },
    {
      id: "g6-before-pin",
      fix: "recheck~recheckBeforePin=true",
      text: "G6 runs before G5 (the pin) instead of after it",
    },
    { id: "g6-dropped", fix: "recheck~recheckPmd=false", text: "G6 dropped: fix 2 undone" },
    {
      id: "ipi-no-wait",
      fix: "ipi~ipiWait=false",
      text: "K5 sends the IPIs but does not wait for the acks",
    },
    {
      id: "ipi-irq-off",
      fix: "ipi~ipiWhileIrqOff=true",
      text: "GUP CPUs take IPIs while interrupts are off (G0..G9)",
    },
    {
      id: "ipi-before-k4",
      fix: "ipi~ipiBeforeClear=true",
      text: "the IPI is sent (and acked) before K4 clears the pmd",
    },
    { id: "ipi-dropped", fix: "ipi~ipi=none", text: "no IPI at K5: fix 1 undone" },
    {
      id: "ipi-skip-one",
      fix: "ipi~ipiSkipOne=true",
      text: "each broadcast skips one GUP CPU, rotating (3 CPUs: a real skip, not an empty broadcast)",
      cpus: 3,
    },
    {
      id: "k6-before-k4",
      fix: "recheck~isolateBeforeClear=true",
      text: "fix 2 with K6 (isolate) before K4 (clear pmd)",
    },
    {
      id: "k6-before-k4-ipi",
      fix: "ipi~isolateBeforeClear=true",
      text: "fix 1 with K6 (isolate) before K4 (clear pmd) and the IPI",
    },
    {
      id: "k6-first-page-only",
      fix: "upstream~checkFirstPageOnly=true",
      text: "mainline with K0 and K6 checking only the region's first page: caught only by walks that start past it",
    },
    {
      id: "g7-dropped",
      fix: "recheck~recheckPte=false",
      text: "fix 2 without the G7 pte re-check: the split puts the same table back, G6 passes (the ABA)",
      // The split must come while the walker sits between G5 and G6: freerun
      // splits on the region's next visit, so few regions and a stall after G5.
      stress: {
        mode: "freerun",
        regions: 2,
        holdPins: 1,
        delays: [{ point: "G5", maxNs: 20_000, prob: 0.5 }],
      },
    },
    {
      id: "upstream-ipi-before-k4",
      fix: "upstream~ipiBeforeClear=true",
      text: "mainline with its IPI sent before K4",
      equivalent:
        "G6 still sees the pmd cleared by K4; the IPI guards page-table freeing, which this scenario never does",
    },
    {
      id: "upstream-no-wait",
      fix: "upstream~ipiWait=false",
      text: "mainline's IPI without waiting for the acks",
      equivalent: "G6 and G7 close the collapse race; the IPI guards page-table freeing",
    },
    {
      id: "g7-dropped-ipi",
      fix: "ipi~recheckPte=false",
      text: "fix 1 without the G7 pte re-check",
      equivalent:
        "K6 waits for every walker that read the table to leave, and the split maps the same subpages a walker's huge-pmd pin holds: no pte a walker read changes under it. No scenario of the family can catch it: a walker between G3 and G8 holds back the waiting flush IPI that follows every pte change, and the kernel frees or reuses the old page only after that flush (collapse's K6 after K5, split's freeze after its unmap flush, the mmu_gather's free after its flush), so the page is still the walker's when pinned. G7 guards the platforms whose flush sends no IPI (arm64 TLBI, INVLPGB, the KVM PV flush): g7-dropped and mthp-g7-dropped catch its removal there",
    },
  ],
  outcomes: OUTCOMES,
  defaultDelays: [
    { point: "start", maxNs: 1500, prob: 1 },
    { point: "G1", maxNs: 8000, prob: 0.5 },
    { point: "G1", maxNs: 60_000, prob: 0.02 },
    { point: "K8", maxNs: 300, prob: 0.5 },
    // The host deschedules a walker's vCPU after it read the pmd (interrupts
    // off): only kvm-pv-flush can tell (--preempt, --no-preempt).
    { point: "G1", maxNs: 20_000, prob: 0.1, preempt: true },
  ],
  phases: 2,
  opFirstSteps: [STEP.K0, STEP.KS0],
  frames({ cpus, regions, ptes, heldWalks }) {
    // Each region: the folio it maps, the huge page a collapse is filling, and
    // the block its last collapse released while a walk of this round pins it;
    // each walk held across operations may keep one more released block alive.
    return (regions * 3 + (cpus - 1) * heldWalks + 4) * ptes;
  },
  setup(mem) {
    for (let r = 0; r < mem.geo.regions; r++) setupRegion(mem, r, dataTag(r));
  },
  mutator: {
    create: (cpu) => newCollapse(cpu.fix, allCpus(cpu.mem.geo)),
    start: (cpu, op, region, phase) => startCollapse(cpu, op as Collapse, region, phase),
    step: (cpu, op) => collapseStep(cpu, op as Collapse),
    done: (op) => collapseDone(op as Collapse),
    next: (op) => collapseNext(op as Collapse),
    blocked: (mem, op) => collapseNext(op as Collapse) === STEP.K5W && !allAcked(mem, op),
    outcome: (op) => COLLAPSE_OUTCOME[(op as Collapse).result] ?? UNDECLARED,
  },
  walker: {
    create: (ptes) => newWalk(ptes),
    start: (w, region, first, count) => startWalk(w as GupWalk, region, first, count),
    step: (cpu, w) => gupFastStep(cpu, w as GupWalk),
    done: (w) => (w as GupWalk).pc === DONE,
    next: (w) => (w as GupWalk).pc,
    grade: (mem, w, writerId) => gradeWalk(mem, w as GupWalk, writerId),
    release: (cpu, w) => unpinAll(cpu, w as GupWalk),
    pages: (w) => (w as GupWalk).nr,
    region: (w) => (w as GupWalk).region,
    span: (w) => [(w as GupWalk).startClock, (w as GupWalk).endClock],
  },
  describe,
};
