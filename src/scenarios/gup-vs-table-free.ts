// Scenario: GUP-fast against page-table freeing (docs/model.md, "Why mainline
// still sends the IPI"; 2ba99c5e0881). Tables come from a pool; the mutator
// detaches a region's table and frees it (retract), or collapses the region
// into a THP with the table deposited (ppc radix scribbles list words into
// it) and zaps the THP, freeing the deposited table at once; the freed table
// is then reused by another mm. A walker that read the pmd before the table
// was detached and is still between G0 and G9 must not read it once freed,
// reused or scribbled: it goes wrong at G3/G5, before any re-check runs.
//
// The oracle decides from ghost words the walker program records beside the
// kernel's steps (never read by them): at G1 the incarnation of the table the
// snapshot points to, just before G3 whether that table is free, reused (a
// new incarnation) or scribbled, and at G5 which frame the grab landed on.
// In the explorer each step is atomic, so the record is exact; on threads a
// ghost read is a separate load, so a record can miss a dead read (never
// invent one: a table once dead stays dead), and the returned pages are
// still checked one by one.

import { allocBlock, makeFolio } from "../kernel/frames.js";
import { type GupWalk, gupFastStep, newWalk, startWalk, unpinAll, WALK } from "../kernel/gup.js";
import { DONE, STEP } from "../kernel/steps.js";
import {
  newTableOp,
  pageData,
  SCRIBBLE_WORDS,
  startTableOp,
  type TableOp,
  TF,
  TF_PHASES,
  tableOpDone,
  tableOpNext,
  tableOpStep,
  tableOpWaitingFor,
} from "../kernel/table-free.js";
import { poolSetup } from "../kernel/tables.js";
import type { Memory } from "../memory/layout.js";
import {
  FRAME,
  FRAME_MAPPED,
  makePte,
  makeTablePmd,
  PMD_HUGE,
  PMD_TABLE,
  pmdId,
  pmdKind,
  REGION,
  TABLE,
  TABLE_FREE,
  TABLE_SCRIBBLED,
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
    key: "dead-table",
    grade: "FORBIDDEN",
    actor: "walker",
    tag: "race",
    text: "G3 read a page table that was freed or reused after the walk's G1 snapshot",
  },
  {
    key: "garbage-grab",
    grade: "FORBIDDEN",
    actor: "walker",
    tag: "race",
    text: "G5 grabbed a frame decoded from a non-PTE word (a deposited table's list_head)",
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
    text: "every page pinned, each one the address's own",
  },
  {
    key: "pinned-huge",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "pinned",
    text: "every page pinned through a huge pmd",
  },
  {
    key: "backoff-pmd",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G6: the table was detached after the snapshot",
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
    key: "backoff-pmd-leaf",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at G6H: the huge pmd was zapped after the folio was pinned",
  },
  {
    key: "fallback-pmd",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "no table at G1 (detached or zapped): slow path",
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
    text: "refcount zero at G5: slow path",
  },
  {
    key: "table-freed",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "committed",
    text: "a table deposited by a collapse and withdrawn by a zap, or detached by a retract, freed at once",
  },
  {
    key: "table-deferred",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "committed",
    text: "a table detached or withdrawn and handed to pte_free_defer",
  },
  {
    key: "thp-alloc-failed",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "aborted",
    text: "no free huge page: the table put back",
  },
  {
    key: "refault",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "follow-up",
    text: "the region faulted back in with a table from the pool",
  },
  UNDECLARED_OUTCOME,
];

const O = (key: string): number => outcomeIndex({ outcomes: OUTCOMES }, key);
const DEAD = O("dead-table");
const GARBAGE = O("garbage-grab");
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

const OP_OUTCOME: Record<number, number> = {
  [TF.FREED]: O("table-freed"),
  [TF.DEFERRED]: O("table-deferred"),
  [TF.ABORTED]: O("thp-alloc-failed"),
  [TF.REFAULT]: O("refault"),
  [TF.IDLE]: -1,
};

/** Why a G3 read was of a dead table (ghost). */
const GONE = { NONE: 0, FREED: 1, REUSED: 2, SCRIBBLED: 3 } as const;

/** A GUP-fast walk plus the ghost words the oracle reads (never the walker's logic). */
export interface TableWalk extends GupWalk {
  /** incarnation of the table the G1 snapshot points to, -1 if none */
  gInc: number;
  /** GONE.*: the first dead G3 read, and its page index */
  gDead: number;
  gIndex: number;
  /** the frame G5 grabbed after that read, and its ghost address then */
  gGrab: number;
  gGrabRegion: number;
  gGrabIndex: number;
}

function newTableWalk(ptes: number): TableWalk {
  return {
    ...newWalk(ptes),
    gInc: -1,
    gDead: GONE.NONE,
    gIndex: -1,
    gGrab: -1,
    gGrabRegion: -1,
    gGrabIndex: -1,
  };
}

function startTableWalk(w: TableWalk, region: number, first: number, count: number): void {
  startWalk(w, region, first, count);
  w.gInc = -1;
  w.gDead = GONE.NONE;
  w.gIndex = -1;
  w.gGrab = -1;
  w.gGrabRegion = -1;
  w.gGrabIndex = -1;
}

/** Ghost: is the table G2 located dead for this walk (read before the G3 load)? */
function deadness(mem: Memory, w: TableWalk): number {
  const t = w.table;
  const state = mem.load(mem.table(t, TABLE.state));
  if (state === TABLE_FREE) return GONE.FREED;
  if (mem.load(mem.table(t, TABLE.incarnation)) !== w.gInc) return GONE.REUSED;
  if (state === TABLE_SCRIBBLED && w.j < SCRIBBLE_WORDS) return GONE.SCRIBBLED;
  return GONE.NONE;
}

/** One walker step: the kernel's (gup.ts), then the ghost record for the oracle. */
function walkStep(cpu: Parameters<typeof gupFastStep>[0], w: TableWalk): number {
  const mem = cpu.mem;
  const gone = w.pc === STEP.G3 && w.gDead === GONE.NONE ? deadness(mem, w) : GONE.NONE;
  const s = gupFastStep(cpu, w);
  if (s === STEP.G1) {
    w.gInc =
      pmdKind(w.pmd) === PMD_TABLE ? mem.load(mem.table(pmdId(w.pmd), TABLE.incarnation)) : -1;
  } else if (s === STEP.G3) {
    if (gone !== GONE.NONE) {
      w.gDead = gone;
      w.gIndex = w.j;
    }
  } else if (s === STEP.G5 && w.gDead !== GONE.NONE && w.gGrab < 0 && w.grabbed) {
    w.gGrab = w.frame;
    w.gGrabRegion = mem.load(mem.frame(w.frame, FRAME.region));
    w.gGrabIndex = mem.load(mem.frame(w.frame, FRAME.index));
  }
  return s;
}

/**
 * Grade a walk whose pins are still held. A dead read is FORBIDDEN whatever
 * came after it (a use after free); a returned page must be the address's
 * own. Confirmation reads data through the pin (the address's page holds
 * pageData(region, j)); for a grab dropped at a back-off, it compares the
 * grabbed frame's address with the walk's.
 */
function grade(mem: Memory, w: TableWalk): Verdict {
  let wrong = -1;
  let wrongIndex = -1;
  for (let k = 0; k < w.nr; k++) {
    const f = w.frames[k];
    const j = w.indexes[k];
    const head = mem.load(mem.frame(f, FRAME.head));
    const ref = mem.load(mem.frame(head, FRAME.refcount));
    if (ref < w.bias) return undeclared(`frame ${f} lost its pin (refcount ${ref})`);
    const ours =
      mem.load(mem.frame(f, FRAME.region)) === w.region &&
      mem.load(mem.frame(f, FRAME.index)) === j;
    if (ours) continue;
    if (mem.load(mem.frameData(f)) === pageData(w.region, j))
      return undeclared(`frame ${f} is not page ${j}'s but holds its data`);
    wrong = f;
    wrongIndex = j;
    break;
  }
  if (w.gDead !== GONE.NONE) {
    const garbage = w.gDead === GONE.SCRIBBLED && w.gGrab >= 0;
    const grabbedElsewhere =
      w.gGrab >= 0 && (w.gGrabRegion !== w.region || w.gGrabIndex !== w.gIndex);
    return {
      outcome: garbage ? GARBAGE : DEAD,
      frame: wrong >= 0 ? wrong : w.gGrab,
      index: wrong >= 0 ? wrongIndex : w.gIndex,
      confirmed: wrong >= 0 || grabbedElsewhere,
      detail: "",
    };
  }
  if (wrong >= 0)
    return { outcome: WRONG, frame: wrong, index: wrongIndex, confirmed: true, detail: "" };
  const outcome = WALK_OUTCOME[w.result];
  if (outcome === undefined) return undeclared(`walk ended with result ${w.result}`);
  return verdictOf(outcome);
}

function undeclared(detail: string): Verdict {
  return verdictOf(UNDECLARED, detail);
}

/** Harness bookkeeping before the run: region r maps frames r*ptes .. (its page cache) through table r. */
function setup(mem: Memory): void {
  const { regions, ptes } = mem.geo;
  poolSetup(mem, regions);
  for (let r = 0; r < regions; r++) {
    const base = allocBlock(mem);
    if (base !== r * ptes) throw new Error("setup: region pages are not the first blocks");
    for (let j = 0; j < ptes; j++) {
      makeFolio(mem, base + j, 1, FRAME_MAPPED, r, j, 1, 1);
      mem.store(mem.frameData(base + j), pageData(r, j));
      mem.store(mem.pte(r, j), makePte(base + j));
    }
    mem.store(mem.region(r, REGION.gen), 1);
    mem.store(mem.pmd(r), makeTablePmd(r));
  }
}

const page = (s: { index: number }) => (s.index >= 0 ? ` page ${s.index}` : "");
const tableText = (t: number) => (t < 0 ? "none" : `table ${t}`);

function describe(s: { step: string; index: number; frame: number; value: number; text: string }) {
  switch (s.step) {
    case "G1":
      return `G1 read pmd (${s.value === 0 ? "none" : pmdKind(s.value) === PMD_HUGE ? `huge, folio ${pmdId(s.value)}` : `table ${pmdId(s.value)}`})`;
    case "G2":
      return `G2 pte_offset_map: table ${s.value} (from the snapshot)`;
    case "G3":
      return `G3 read pte${page(s)}${s.frame >= 0 ? ` -> frame ${s.frame}` : " (none)"}`;
    case "G5":
      return `G5 grab${page(s)} (frame ${s.frame})${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "T1":
      return `T1 pmdp_collapse_flush: clear pmd (${tableText(s.value)} detached)`;
    case "T2":
      return `T2 tlb_remove_table_sync_one: IPI to ${s.value} CPU${s.value === 1 ? "" : "s"}`;
    case "T4":
      return `T4 pte_free ${tableText(s.value)}`;
    case "T5":
      return `T5 ${s.index > 0 ? `RCU callbacks free ${s.index} table${s.index === 1 ? "" : "s"}; ` : ""}another mm's fault gets ${tableText(s.value)}, writes its ptes`;
    case "T6":
      return `T6 collapse: ${tableText(s.value)} deposited, huge pmd set`;
    case "T8":
      return `T8 zap_deposited_table: withdraw ${tableText(s.value)}`;
    case "TP":
      return `TP page fault: pmd_populate ${tableText(s.value)}`;
    case "IPI":
      return "IPI handler (ack)";
    default:
      return `${s.step} ${s.text}`;
  }
}

export const gupVsTableFree: Scenario = {
  name: "gup-vs-table-free",
  summary:
    "GUP-fast against page-table freeing and reuse: retract, THP zap of a deposited table, ppc radix deposit (2ba99c5e0881)",
  roles: { mutator: "table free", walker: "GUP-fast" },
  fixes: [
    {
      name: "none",
      summary: "no sync, no G6: the table is freed at once (ppc radix deposit)",
      expect: "race",
      minCpus: 2,
      knobs: { depositScribble: true },
    },
    {
      name: "recheck",
      summary: "G6 only (70cbc3cc78a9): the walker goes wrong at G3/G5, before G6 runs",
      expect: "race",
      minCpus: 2,
      knobs: { recheckPmd: true, depositScribble: true },
    },
    {
      name: "ipi-sync",
      summary:
        "G6 and tlb_remove_table_sync_one after the clear: IPI to every CPU, wait for each (2ba99c5e0881)",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "all", recheckPmd: true, depositScribble: true },
    },
    {
      name: "rcu-defer",
      summary: "G6 and every table free after a grace period (pte_free_defer, 1d65b771bc08)",
      expect: "clean",
      minCpus: 2,
      knobs: { tableFree: "defer", recheckPmd: true },
    },
    {
      name: "sync-rcu",
      summary: "G6 and synchronize_rcu after the clear instead of the IPI",
      expect: "clean",
      minCpus: 2,
      knobs: { tableFree: "sync-rcu", recheckPmd: true, depositScribble: true },
    },
    {
      name: "rcu-defer-ppc",
      summary:
        "rcu-defer on ppc radix: the deposit's list words are written with no sync after the clear",
      expect: "race",
      minCpus: 2,
      knobs: { tableFree: "defer", recheckPmd: true, depositScribble: true },
    },
    // Mainline's platform programs (MODEL.md section 4), x86/arm64 deposits write no list words.
    {
      name: "arm64",
      summary: "arm64: TLBI broadcast (no flush IPI), then the sync IPI to all online CPUs",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "all", recheckPmd: true },
    },
    {
      name: "x86",
      summary:
        "x86 since a37259732a7d: flush IPI to mm_cpumask, then the sync IPI to all online CPUs",
      expect: "clean",
      minCpus: 2,
      knobs: { flushIpi: "gup", ipi: "all", recheckPmd: true },
    },
    {
      name: "x86-flush-only",
      summary: "x86 with the flush IPI to mm_cpumask alone: the 2026 'skip redundant IPI' proposal",
      expect: "clean",
      minCpus: 2,
      knobs: { flushIpi: "gup", recheckPmd: true },
    },
    {
      name: "sync-mm",
      summary: "the sync IPI targeted at mm_cpumask only (ppc radix deposit)",
      expect: "clean",
      minCpus: 2,
      knobs: { ipi: "gup", recheckPmd: true, depositScribble: true },
    },
  ],
  mutants: [
    {
      id: "tf-sync-no-wait",
      fix: "ipi-sync~ipiWait=false",
      text: "the table is freed before the sync IPI's acks are in (mainline's upstream-no-wait, here)",
      // Lockstep walkers mostly arrive after the op on a loaded machine; freerun overlaps them.
      stress: { mode: "freerun", regions: 2 },
    },
    {
      id: "tf-sync-before-clear",
      fix: "ipi-sync~ipiBeforeClear=true",
      text: "the sync IPI is sent and acked before the pmd is cleared (mainline's upstream-ipi-before-k4, here)",
      // The hole is a walker entering between the last ack and the clear: widen it.
      stress: {
        mode: "freerun",
        regions: 2,
        delays: [{ point: "T2W", maxNs: 20_000, prob: 1 }],
      },
    },
    {
      id: "tf-sync-irq-off",
      fix: "ipi-sync~ipiWhileIrqOff=true",
      text: "walkers take the sync IPI with interrupts off (G0..G9)",
    },
    {
      id: "tf-flush-not-ipi",
      fix: "x86-flush-only~flushIpi=none",
      text: "the flush-only program where the flush sends no IPI (INVLPGB, a PV flush, arm64 TLBI): nothing waits for the walkers",
    },
    {
      id: "tf-gp-early",
      fix: "rcu-defer~gpWait=false",
      text: "pte_free_defer's grace period ends at once: the callback frees a table a walker still reads",
      stress: { mode: "freerun", regions: 2 },
    },
    {
      id: "tf-sync-rcu-early",
      fix: "sync-rcu~gpWait=false",
      text: "synchronize_rcu returns before every CPU passed a quiescent state",
    },
  ],
  outcomes: OUTCOMES,
  defaultDelays: [
    { point: "start", maxNs: 1500, prob: 1 },
    { point: "T0", maxNs: 20_000, prob: 1 },
    // The THP lives on before its zap: the deposited table stays scribbled meanwhile.
    { point: "T6", maxNs: 20_000, prob: 1 },
    { point: "G1", maxNs: 8000, prob: 0.5 },
    { point: "G1", maxNs: 60_000, prob: 0.02 },
  ],
  phases: TF_PHASES,
  opFirstSteps: [STEP.T0, STEP.TP],
  frames({ cpus, regions, ptes, heldWalks }) {
    // Per region: its pages, its THP while collapsed, the other mm's block;
    // each walk held across operations may keep one more block alive.
    return (regions * 3 + (cpus - 1) * heldWalks + 4) * ptes;
  },
  tables({ regions }) {
    // One per region, one per region for the other mm, and room for deferred frees.
    return regions * 3 + 2;
  },
  setup,
  mutator: {
    create: (cpu) => newTableOp(cpu),
    start: (cpu, op, region, phase) => startTableOp(cpu, op as TableOp, region, phase),
    step: (cpu, op) => tableOpStep(cpu, op as TableOp),
    done: (op) => tableOpDone(op as TableOp),
    next: (op) => tableOpNext(op as TableOp),
    blocked: (mem, op) => tableOpWaitingFor(mem, op as TableOp) >= 0,
    waitingFor: (mem, op) => tableOpWaitingFor(mem, op as TableOp),
    outcome: (op) => OP_OUTCOME[(op as TableOp).result] ?? UNDECLARED,
  },
  walker: {
    create: (ptes) => newTableWalk(ptes),
    start: (w, region, first, count) => startTableWalk(w as TableWalk, region, first, count),
    step: (cpu, w) => walkStep(cpu, w as TableWalk),
    done: (w) => (w as TableWalk).pc === DONE,
    next: (w) => (w as TableWalk).pc,
    grade: (mem, w) => grade(mem, w as TableWalk),
    release: (cpu, w) => unpinAll(cpu, w as TableWalk),
    pages: (w) => (w as TableWalk).nr,
    region: (w) => (w as TableWalk).region,
    span: (w) => [(w as TableWalk).startClock, (w as TableWalk).endClock],
  },
  describe,
};
