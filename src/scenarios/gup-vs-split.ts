// Scenario: GUP-fast against THP split, the compound-head race (c24d37322548,
// "mm/gup: fix try_grab_compound_head() race with split_huge_page()", Jann
// Horn, 2021). The walker reads a subpage's compound head, then grabs a
// reference on it; a split in between rewrites every head, and the old head
// frame may be freed and handed to another allocation, so the reference lands
// on an unrelated page. The split maps the same subpages back at the same
// ptes, so G7 sees an identical pte and the page is returned. The fix
// re-checks the head after the grab. On x86 bare metal the unmap's flush IPI
// waits for IRQ-off walkers and closes the window, and so does the flush of
// the zap that frees the former head (the mmu_gather frees only after it);
// arm64 flushes without an IPI, and a KVM guest's PV flush skips a preempted
// vCPU.

import { putFolio } from "../kernel/frames.js";
import { type GupWalk, gupFastStep, newWalk, startWalk, WALK } from "../kernel/gup.js";
import { allAcked } from "../kernel/irq.js";
import {
  newSplit,
  SPLIT,
  type Split,
  setupPteMappedThp,
  splitDone,
  splitNext,
  splitStep,
  startSplit,
} from "../kernel/split.js";
import { DONE, STEP } from "../kernel/steps.js";
import type { Memory } from "../memory/layout.js";
import { allCpus, FRAME, PMD_HUGE, PMD_TABLE, pmdId, pmdKind } from "../memory/layout.js";
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
    key: "wrong-head",
    grade: "FORBIDDEN",
    actor: "walker",
    tag: "race",
    text: "GUP-fast returned a page whose reference is held on another frame (its head before a split): unpin would underflow the page's refcount",
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
    text: "every page pinned on its own head",
  },
  {
    key: "pinned-huge",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "pinned",
    text: "every page pinned through a huge pmd (gup_fast_pmd_leaf)",
  },
  {
    key: "backoff-head",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at GR: the page's compound head changed after the grab (c24d37322548)",
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
    key: "backoff-pmd",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    text: "back-off at G6: pmd changed after the pin",
  },
  {
    key: "backoff-pmd-leaf",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    text: "back-off at G6H: the huge pmd was split after the folio was pinned",
  },
  {
    key: "fallback-pmd",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "no pmd at G1 (a refault in progress): slow path",
  },
  {
    key: "fallback-pte",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "pte not present at G3 (a migration entry, or zapped): slow path",
  },
  {
    key: "fallback-grab",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "refcount zero at the grab (frozen by the split, or freed): slow path",
  },
  {
    key: "split-done",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "committed",
    text: "the THP split into small pages, the same subpages at the same ptes",
  },
  {
    key: "split-aborted-pin",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "mutator",
    tag: "aborted",
    window: true,
    text: "folio_ref_freeze failed (a pin): the folio remapped whole",
  },
  {
    key: "split-idle",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "nothing to split: the pmd was not huge",
  },
  {
    key: "refault",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "follow-up",
    text: "the region zapped, a fresh THP faulted in under a huge pmd, and that pmd split (SP)",
  },
  {
    key: "refault-no-memory",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "follow-up",
    text: "the refault found no free huge page",
  },
  UNDECLARED_OUTCOME,
];

const O = (key: string): number => outcomeIndex({ outcomes: OUTCOMES }, key);
const WRONG_HEAD = O("wrong-head");
const WRONG_PAGE = O("wrong-page");
const UNDECLARED = O("undeclared");

const WALK_OUTCOME: Record<number, number> = {
  [WALK.PINNED]: O("pinned"),
  [WALK.PINNED_HUGE]: O("pinned-huge"),
  [WALK.BACKOFF_HEAD]: O("backoff-head"),
  [WALK.BACKOFF_PTE]: O("backoff-pte"),
  [WALK.BACKOFF_PMD]: O("backoff-pmd"),
  [WALK.BACKOFF_LEAF]: O("backoff-pmd-leaf"),
  [WALK.FALLBACK_PMD]: O("fallback-pmd"),
  [WALK.FALLBACK_PTE]: O("fallback-pte"),
  [WALK.FALLBACK_GRAB]: O("fallback-grab"),
};

const SPLIT_OUTCOME: Record<number, number> = {
  [SPLIT.SPLIT]: O("split-done"),
  [SPLIT.ABORTED_PIN]: O("split-aborted-pin"),
  [SPLIT.IDLE]: O("split-idle"),
  [SPLIT.REFAULTED]: O("refault"),
  [SPLIT.REFAULT_NO_MEMORY]: O("refault-no-memory"),
};

/**
 * Grade one walk whose pins are still held. Each returned page's reference
 * must sit on the page's compound head now: unpin_user_page(page) puts
 * page_folio(page), and a reference taken on a frame that is no longer the
 * page's head leaves the page unpinned (any zap frees it under the DMA) and
 * the unpin underflows the page's own refcount. Confirmed from memory: the
 * page's head has fewer references than one pin (the unpin would take it
 * below zero). The frame that holds ours is the former head: another
 * allocation's page after S9, or the process's own page 0 before S8R frees it.
 */
export function gradeSplitWalk(mem: Memory, w: GupWalk): Verdict {
  for (let k = 0; k < w.nr; k++) {
    const f = w.frames[k];
    const j = w.indexes[k];
    const held = w.folios[k];
    const head = mem.load(mem.frame(f, FRAME.head));
    if (head !== held) {
      // Confirmed when the page's own head has fewer references than one
      // pin: unpin_user_page(page) would take it below zero.
      const ref = mem.load(mem.frame(head, FRAME.refcount));
      return { outcome: WRONG_HEAD, frame: f, index: j, confirmed: ref < w.bias, detail: "" };
    }
    const ref = mem.load(mem.frame(head, FRAME.refcount));
    if (ref < w.bias) return undeclared(`frame ${f} lost its pin (refcount ${ref})`);
    // The page must be the one this address mapped when it was returned
    // (ghost region and index; a zap since then is allowed by the GUP contract).
    const ours =
      mem.load(mem.frame(f, FRAME.region)) === w.region &&
      mem.load(mem.frame(f, FRAME.index)) === j;
    if (!ours) return { outcome: WRONG_PAGE, frame: f, index: j, confirmed: false, detail: "" };
  }
  const outcome = WALK_OUTCOME[w.result];
  if (outcome === undefined) return undeclared(`walk ended with result ${w.result}`);
  return verdictOf(outcome);
}

function undeclared(detail: string): Verdict {
  return verdictOf(UNDECLARED, detail);
}

/**
 * Unpin what the walk took, where it took it (w.folios): the kernel's
 * unpin_user_page would put page_folio(page) and underflow it after a
 * wrong-head race (graded before this runs); the harness gives the reference
 * back to the frame that holds it, so that the run goes on.
 */
function releaseWalk(mem: Memory, w: GupWalk): void {
  for (let k = 0; k < w.nr; k++) putFolio(mem, w.folios[k], w.bias);
}

const page = (s: { index: number }) => (s.index >= 0 ? ` page ${s.index}` : "");
const pmdText = (v: number): string =>
  v === 0
    ? "none"
    : pmdKind(v) === PMD_HUGE
      ? `huge, folio ${pmdId(v)}`
      : pmdKind(v) === PMD_TABLE
        ? `table ${pmdId(v)}`
        : String(v);

function describe(s: { step: string; index: number; frame: number; value: number; text: string }) {
  switch (s.step) {
    case "G1":
      return `G1 read pmd (${pmdText(s.value)})`;
    case "G3":
      return `G3 read pte${page(s)}${s.frame >= 0 ? ` -> frame ${s.frame}` : " (none)"}`;
    case "GH":
      return `GH read head of frame ${s.frame}: ${s.value}`;
    case "GG":
      return `GG pin head ${s.frame}${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "GR":
      return `GR re-check head of frame ${s.frame}: ${s.value}`;
    case "G5H":
      return `G5H pin huge folio ${s.frame}${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "G6H":
      return `G6H re-check huge pmd (${pmdText(s.value)})`;
    case "G7":
      return `G7 re-check pte${page(s)}`;
    case "G8":
      return `G8 return${page(s)}`;
    case "SP":
      return `SP split huge pmd of folio ${s.frame} (${pmdText(s.value)})`;
    case "S2":
      return `S2 flush IPI to ${s.value} CPU${s.value === 1 ? "" : "s"}`;
    case "S3":
      return `S3 freeze folio ${s.frame}: refcount ${s.value}${s.value === 1 ? ", frozen" : ": pinned, fail"}`;
    case "S4":
      return `S4 heads of frames ${s.frame}.. rewritten to themselves`;
    case "S6":
      return `S6 remap the same subpages at the same ptes`;
    case "S8":
      return `S8 zap page 0: pte cleared, former head ${s.frame} gathered (its ref held)`;
    case "S8F":
      return `S8F zap's flush IPI to ${s.value} CPU${s.value === 1 ? "" : "s"}`;
    case "S8R":
      return s.frame >= 0
        ? `S8R free the gathered page (frame ${s.frame})`
        : "S8R nothing gathered";
    case "S9":
      return `S9 frame ${s.frame} ${s.value === 1 ? "reused: another allocation's page" : "still held: not reused"}`;
    case "SF":
      return `SF refault a fresh THP (${pmdText(s.value)})`;
    case "HP":
      return "host preempts this vCPU (steal time: PREEMPTED)";
    case "HR":
      return `vCPU runs again${s.value === 1 ? ": a PV flush skipped it, TLB flushed on entry" : ""}`;
    case "IPI":
      return "IPI handler (ack)";
    default:
      return `${s.step} ${s.text}`;
  }
}

const HEAD = { headRead: true } as const;

export const gupVsSplit: Scenario = {
  name: "gup-vs-split",
  summary:
    "GUP-fast against THP split: the reference lands on a former compound head (c24d37322548)",
  roles: { mutator: "THP split", walker: "GUP-fast" },
  fixes: [
    {
      name: "none",
      summary: "no head re-check, flush without an IPI (arm64)",
      expect: "race",
      minCpus: 2,
      knobs: { ...HEAD },
    },
    {
      name: "recheck",
      summary: "re-check the compound head after the grab (c24d37322548)",
      expect: "clean",
      minCpus: 2,
      knobs: { ...HEAD, recheckHead: true },
    },
    {
      name: "ipi",
      summary: "no head re-check; the flush IPI waits for IRQ-off walkers (x86 bare metal)",
      expect: "clean",
      minCpus: 2,
      knobs: { ...HEAD, ipi: "gup" },
    },
    {
      name: "kvm-pv-flush",
      summary:
        "no head re-check in a KVM guest: the PV flush skips preempted vCPUs (races only through a preempted walker)",
      expect: "race",
      minCpus: 2,
      knobs: { ...HEAD, ipi: "gup", ipiPvFlush: true },
    },
  ],
  mutants: [
    {
      id: "split-gr-dropped",
      fix: "recheck~recheckHead=false",
      text: "c24d37322548 undone: no head re-check after the grab; G7 sees the same pte the split put back",
    },
    {
      id: "split-gr-before-grab",
      fix: "recheck~recheckHeadBeforeGrab=true",
      text: "the head re-checked before the grab, not after it: the split can still land between the re-check and the reference",
    },
    {
      id: "split-gr-folio-head",
      fix: "recheck~recheckHeadOfFolio=true",
      text: "the re-check reads the grabbed head's own head (compound_head(head) != head), which a split leaves as it was, not the page's",
    },
    {
      id: "split-ipi-no-wait",
      fix: "ipi~ipiWait=false",
      text: "the unmap's flush IPI sent without waiting for the acks: the freeze runs while a walker is between reading the head and grabbing it",
    },
    {
      id: "split-ipi-irq-off",
      fix: "ipi~ipiWhileIrqOff=true",
      text: "walkers take the flush IPI with interrupts off (G0..G9)",
    },
    {
      id: "split-ipi-dropped",
      fix: "ipi~ipi=none",
      text: "no flush IPI and no head re-check: arm64's TLBI broadcast",
    },
    {
      id: "split-ipi-pv-flush",
      fix: "ipi~ipiPvFlush=true",
      text: "x86's waiting flush inside a KVM guest: the PV flush leaves out a walker's vCPU that the host preempted (caught only through a host preemption)",
    },
    {
      id: "split-g7-dropped",
      fix: "recheck~recheckPte=false",
      text: "the head re-check without the G7 pte re-check, no flush IPI (arm64): the zap of page 0 frees the former head and S9 reuses it as an order-0 page, whose head is itself, so GR passes too",
    },
    {
      id: "split-g7-dropped-ipi",
      fix: "ipi~recheckPte=false",
      text: "the waiting flush IPI without the G7 pte re-check",
      equivalent:
        "the zap of page 0 (S8) frees the page only after its own waiting flush (S8F, S8W: mmu_gather frees after tlb_flush_mmu), so a walker that read the pte before the zap has left its IRQ-off section before S8R and cannot grab a reused frame; and the unmap's waiting flush (S2W) keeps a walker that read a pte before S1 ahead of the freeze",
    },
  ],
  outcomes: OUTCOMES,
  defaultDelays: [
    { point: "start", maxNs: 1500, prob: 1 },
    { point: "G1", maxNs: 4000, prob: 0.5 },
    // The window is between reading the head and grabbing it: the whole split
    // (and the reuse of the head) must fit in it.
    { point: "GH", maxNs: 30_000, prob: 0.2 },
    // The host deschedules a walker's vCPU right after it read the head
    // (interrupts off): only kvm-pv-flush can tell (--preempt, --no-preempt).
    { point: "GH", maxNs: 50_000, prob: 0.3, preempt: true },
  ],
  phases: 2,
  opFirstSteps: [STEP.S0, STEP.SF],
  frames({ cpus, regions, ptes, heldWalks }) {
    // Each region: the THP it maps, the one a refault brings in while the
    // old one's pages are still pinned or reused; each held walk may keep
    // one more block alive.
    return (regions * 3 + (cpus - 1) * heldWalks + 4) * ptes;
  },
  setup(mem) {
    for (let r = 0; r < mem.geo.regions; r++) setupPteMappedThp(mem, r);
  },
  mutator: {
    create: (cpu) => newSplit(cpu.fix, allCpus(cpu.mem.geo)),
    start: (cpu, op, region, phase) => startSplit(cpu, op as Split, region, phase),
    step: (cpu, op) => splitStep(cpu, op as Split),
    done: (op) => splitDone(op as Split),
    next: (op) => splitNext(op as Split),
    blocked: (mem, op) => {
      const next = splitNext(op as Split);
      return (next === STEP.S2W || next === STEP.S8W) && !allAcked(mem, op as Split);
    },
    outcome: (op) => SPLIT_OUTCOME[(op as Split).result] ?? UNDECLARED,
  },
  walker: {
    create: (ptes) => newWalk(ptes),
    start: (w, region, first, count) => startWalk(w as GupWalk, region, first, count),
    step: (cpu, w) => gupFastStep(cpu, w as GupWalk),
    done: (w) => (w as GupWalk).pc === DONE,
    next: (w) => (w as GupWalk).pc,
    grade: (mem, w) => gradeSplitWalk(mem, w as GupWalk),
    release: (cpu, w) => releaseWalk(cpu.mem, w as GupWalk),
    pages: (w) => (w as GupWalk).nr,
    region: (w) => (w as GupWalk).region,
    span: (w) => [(w as GupWalk).startClock, (w as GupWalk).endClock],
  },
  describe,
};
