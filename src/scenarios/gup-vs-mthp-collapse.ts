// Scenario: GUP-fast against khugepaged's mTHP collapse (MODEL row A'; Nico
// Pache's series, <616de1a8-1cfd-40b8-b04f-7b324be40bfd@linux.dev>). The
// mutator detaches a region's whole table (K4), collapses a sub-range of it
// into a new mTHP folio (K6, K8, K8F, K10S) and pmd_populates the SAME table
// (K10P): the pmd's value comes back, so G6 alone is defeated (the ABA) and
// G7 is what closes the race. The walkers pin ranges of the region's pages
// with the GUP-fast walker of src/kernel/gup.ts, unchanged. The oracle grades
// each walk from memory alone, pins still held: it never sees the fix.

import { setupRegion } from "../kernel/frames.js";
import { type GupWalk, gupFastStep, newWalk, startWalk, unpinAll, WALK } from "../kernel/gup.js";
import { allAcked } from "../kernel/irq.js";
import {
  MTHP,
  type MthpCollapse,
  mthpDone,
  mthpNext,
  mthpStep,
  newMthpCollapse,
  startMthpCollapse,
} from "../kernel/mthp-collapse.js";
import { DONE, STEP } from "../kernel/steps.js";
import type { Memory } from "../memory/layout.js";
import {
  allCpus,
  CTL,
  FRAME,
  FRAME_MAPPED,
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
    text: "GUP-fast returned a page that a committed mTHP collapse released",
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
    key: "backoff-pmd",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G6: pmd changed after the pin",
  },
  {
    key: "backoff-pte",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G7: pte changed after the pin (the same table came back)",
  },
  {
    key: "fallback-pmd",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "no pmd at G1 (the table is detached): slow path",
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
    key: "mthp-committed",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "committed",
    text: "the range maps the new mTHP, the same table is back (K10S, K10P)",
  },
  {
    key: "mthp-aborted-scan",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "mTHP collapse not tried: the K0 scan saw a pinned or missing page in the range",
  },
  {
    key: "mthp-aborted-pin",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "mutator",
    tag: "aborted",
    window: true,
    text: "mTHP collapse aborted by a pin at K6, same table put back (K7)",
  },
  {
    key: "mthp-aborted-copy",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "copy_mc failed at K8, same table put back (K7)",
  },
  {
    key: "mthp-aborted-alloc",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "no free run of frames for the mTHP at K1",
  },
  UNDECLARED_OUTCOME,
];

const O = (key: string): number => outcomeIndex({ outcomes: OUTCOMES }, key);
const STALE = O("stale-pin");
const WRONG = O("wrong-page");
const UNDECLARED = O("undeclared");

// The walker's huge-pmd leaf (PINNED_HUGE, BACKOFF_LEAF) cannot happen here:
// no pmd is ever huge, so those results are undeclared.
const WALK_OUTCOME: Record<number, number> = {
  [WALK.PINNED]: O("pinned"),
  [WALK.BACKOFF_PMD]: O("backoff-pmd"),
  [WALK.BACKOFF_PTE]: O("backoff-pte"),
  [WALK.FALLBACK_PMD]: O("fallback-pmd"),
  [WALK.FALLBACK_PTE]: O("fallback-pte"),
  [WALK.FALLBACK_GRAB]: O("fallback-grab"),
};

const MTHP_OUTCOME: Record<number, number> = {
  [MTHP.COMMITTED]: O("mthp-committed"),
  [MTHP.ABORTED_SCAN]: O("mthp-aborted-scan"),
  [MTHP.NOT_TABLE]: O("mthp-aborted-scan"),
  [MTHP.ABORTED_ISOLATE]: O("mthp-aborted-pin"),
  [MTHP.ABORTED_COPY]: O("mthp-aborted-copy"),
  [MTHP.ABORTED_ALLOC]: O("mthp-aborted-alloc"),
};

/** Where address (region, j) points now: its frame, or -1 (no pmd here is ever huge). */
function translate(mem: Memory, region: number, j: number): number {
  const pmd = mem.load(mem.pmd(region));
  if (pmdKind(pmd) !== PMD_TABLE) return -1;
  const pte = mem.load(mem.pte(pmdId(pmd), j));
  return ptePresent(pte) ? pteFrame(pte) : -1;
}

let confirmSerial = 0;

/**
 * Grade one walk whose pins are still held (gup-vs-collapse's gradeWalk,
 * adapted): every returned page must still be mapped at its own address. A
 * page a committed mTHP collapse released is a stale pin; a page that belongs
 * to another address is a wrong page. Each is confirmed the way
 * selftests/mm/cow.c checks pins: write through the address's current
 * mapping, read through the pin.
 */
export function gradeMthpWalk(mem: Memory, w: GupWalk, writerId: number): Verdict {
  for (let k = 0; k < w.nr; k++) {
    const f = w.frames[k];
    const j = w.indexes[k];
    const head = mem.load(mem.frame(f, FRAME.head));
    const ref = mem.load(mem.frame(head, FRAME.refcount));
    if (ref < w.bias) return undeclared(`frame ${f} lost its pin (refcount ${ref})`);
    const ours =
      mem.load(mem.frame(f, FRAME.region)) === w.region &&
      mem.load(mem.frame(f, FRAME.index)) === j;
    if (ours && mem.load(mem.frame(f, FRAME.state)) === FRAME_MAPPED) continue;
    // A consistent look: no operation began or was in flight on the region meanwhile.
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
      if (serial === 0 || committed - serial < 0)
        return undeclared(
          `frame ${f} is not mapped at page ${j}${serial === 0 ? ", and nothing released it" : `, released by operation ${serial}, which never committed`} (walk ${w.result} of pages ${w.start}..${w.end - 1})`,
        );
    }
    if (now < 0)
      return undeclared(`page ${j} of region ${w.region} maps nothing, no operation in flight`);
    const tag = (0x40000000 | (writerId << 22) | (++confirmSerial & 0x3fffff)) >>> 0;
    mem.store(mem.frameData(now), tag);
    if (mem.load(mem.frameData(f)) === (tag | 0))
      return undeclared(`frame ${f} is not mapped at page ${j} but sees its writes`);
    return { outcome, frame: f, index: j, confirmed: true, detail: "" };
  }
  const outcome = WALK_OUTCOME[w.result];
  if (outcome === undefined) return undeclared(`walk ended with result ${w.result}`);
  return verdictOf(outcome);
}

function undeclared(detail: string): Verdict {
  return verdictOf(UNDECLARED, detail);
}

function pending(): Verdict {
  return verdictOf(-1);
}

const page = (s: { index: number }) => (s.index >= 0 ? ` page ${s.index}` : "");

const pmdText = (v: number): string => (v === 0 ? "none" : `table ${pmdId(v)}`);

function describe(s: { step: string; index: number; frame: number; value: number; text: string }) {
  switch (s.step) {
    case "G1":
      return `G1 read pmd (${pmdText(s.value)})`;
    case "G3":
      return `G3 read pte${page(s)}${s.frame >= 0 ? ` -> frame ${s.frame}` : " (none)"}`;
    case "G5":
      return `G5 pin${page(s)} (frame ${s.frame})${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "G6":
      return `G6 re-check pmd${page(s)} (${pmdText(s.value)})`;
    case "G7":
      return `G7 re-check pte${page(s)}`;
    case "G8":
      return `G8 return${page(s)}`;
    case "K0":
      return `K0 scan pages ${s.index}..: ${s.value === 1 ? "all present, none pinned" : "pinned or missing"}`;
    case "K1":
      return `K1 alloc mTHP folio (${s.value} pages at frame ${s.frame})`;
    case "K4":
      return "K4 pmdp_collapse_flush: clear pmd (whole table detached)";
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
    case "K10S":
      return `K10S set_ptes${page(s)} -> mTHP frame ${s.frame}`;
    case "K10P":
      return `K10P pmd_populate: the same table back (${pmdText(s.value)})`;
    case "K11":
      return "K11 mmap_write_unlock";
    case "IPI":
      return "IPI handler (ack)";
    default:
      return `${s.step} ${s.text}`;
  }
}

export const gupVsMthpCollapse: Scenario = {
  name: "gup-vs-mthp-collapse",
  summary:
    "GUP-fast against khugepaged's mTHP collapse of a sub-range, which puts the same table back (the pmd ABA)",
  roles: { mutator: "mTHP collapse", walker: "GUP-fast" },
  fixes: [
    {
      name: "none",
      summary: "no IPI, no G6: arm64 before 70cbc3cc78a9",
      expect: "race",
      minCpus: 2,
      knobs: {},
    },
    {
      name: "g6-only",
      summary: "G6 without G7: the same table comes back, G6 passes (the ABA)",
      expect: "race",
      minCpus: 2,
      knobs: { recheckPmd: true, recheckPte: false },
    },
    {
      name: "ipi",
      summary: "fix 1: IPI to the GUP CPUs at K5, wait for every ack; G7, no G6",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "gup" },
    },
    {
      name: "recheck",
      summary: "G6 and G7 (70cbc3cc78a9): G7 sees the range's ptes changed",
      expect: "clean",
      minCpus: 2,
      knobs: { recheckPmd: true },
    },
    {
      name: "upstream",
      summary: "mainline: G6, G7, and an IPI to all CPUs after K4 (2ba99c5e0881)",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "all", recheckPmd: true },
    },
  ],
  mutants: [
    {
      id: "mthp-g7-dropped",
      fix: "recheck~recheckPte=false",
      text: "G6 without G7: the same table is back when G6 runs (the ABA)",
    },
    {
      id: "mthp-populate-before-clear",
      fix: "upstream~mthpPopulateBeforeClear=true",
      text: "mainline with pmd_populate right after the copy, before K8F clears and frees the range's ptes",
      // The window is K10P .. K8F(j), a few steps: a stall after K10P opens it
      // to walks that start after the table is back.
      stress: { delays: [{ point: "K10P", maxNs: 20_000, prob: 1 }] },
    },
    {
      id: "mthp-populate-before-set-ptes",
      fix: "upstream~mthpPopulateBeforeSetPtes=true",
      text: "mainline with pmd_populate before set_ptes writes the new folio's ptes",
      equivalent:
        "K8F has already cleared the range's ptes: a walk that sees the table back reads none (slow path) or a new pte; no returned page is released",
    },
    {
      id: "mthp-upstream-no-g7",
      fix: "upstream~recheckPte=false",
      text: "mainline without G7",
      equivalent:
        "the IPI after K4 waits for every walk that read the pmd before K4 to leave its IRQ-off section: none can straddle the re-install",
    },
    {
      id: "mthp-upstream-no-wait",
      fix: "upstream~ipiWait=false",
      text: "mainline's IPI without waiting for the acks",
      equivalent: "G6 and G7 close the race; the IPI guards page-table freeing",
    },
  ],
  outcomes: OUTCOMES,
  // The race window is K6(j) .. K8F(j): K8 widens it (the copy of every page
  // of the range runs between them), G1 and G3 move the walk's pins into it,
  // and a rare long stall after G5 lets the rest of the collapse (K8F, K10S,
  // K10P) pass between the pin and G6: the ABA that g6-only needs.
  defaultDelays: [
    { point: "start", maxNs: 1500, prob: 1 },
    { point: "G1", maxNs: 4000, prob: 0.5 },
    { point: "G3", maxNs: 2000, prob: 0.3 },
    { point: "G5", maxNs: 60_000, prob: 0.2 },
    { point: "K8", maxNs: 2000, prob: 0.5 },
  ],
  phases: 1,
  opFirstSteps: [STEP.K0],
  frames({ cpus, regions, ptes, heldWalks }) {
    // Each region: its table's pages, the folio a collapse is filling, and the
    // range its last collapse released while a walk pins it; each walk held
    // across operations may keep one more released range alive.
    return (regions * 3 + (cpus - 1) * heldWalks + 4) * ptes;
  },
  setup(mem) {
    for (let r = 0; r < mem.geo.regions; r++) setupRegion(mem, r, (r & 0x7fff) << 8);
  },
  mutator: {
    create: (cpu) => newMthpCollapse(cpu.fix, allCpus(cpu.mem.geo), cpu.mem.geo.ptes),
    start: (cpu, op, region) => startMthpCollapse(cpu, op as MthpCollapse, region),
    step: (cpu, op) => mthpStep(cpu, op as MthpCollapse),
    done: (op) => mthpDone(op as MthpCollapse),
    next: (op) => mthpNext(op as MthpCollapse),
    blocked: (mem, op) => mthpNext(op as MthpCollapse) === STEP.K5W && !allAcked(mem, op),
    outcome: (op) => MTHP_OUTCOME[(op as MthpCollapse).result] ?? UNDECLARED,
  },
  walker: {
    create: (ptes) => newWalk(ptes),
    start: (w, region, first, count) => startWalk(w as GupWalk, region, first, count),
    step: (cpu, w) => gupFastStep(cpu, w as GupWalk),
    done: (w) => (w as GupWalk).pc === DONE,
    next: (w) => (w as GupWalk).pc,
    grade: (mem, w, writerId) => gradeMthpWalk(mem, w as GupWalk, writerId),
    release: (cpu, w) => unpinAll(cpu, w as GupWalk),
    pages: (w) => (w as GupWalk).nr,
    region: (w) => (w as GupWalk).region,
    span: (w) => [(w as GupWalk).startClock, (w as GupWalk).endClock],
  },
  describe,
};
