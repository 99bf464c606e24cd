// Scenario: GUP-fast against hugetlb PMD-table unsharing (CVE-2025-38085,
// 1013af4f585f; docs/hugetlb-unshare.md). Three processes (mms A, B, C) share
// one PMD table T through their PUDs. A walker in A reads A's PUD, then walks
// T; meanwhile A and B unshare T (huge_pmd_unshare: fork, exit, munmap) and C,
// left as T's only owner, reuses T for a private mapping. The oracle grades
// each walk from memory alone, pins still held: a page of another mm is the
// race.

import {
  fileBase,
  fileOwner,
  type HugeWalk,
  HWALK,
  hugeTranslate,
  hugeUnpinAll,
  hugeWalkStep,
  newHugeWalk,
  newUnshare,
  ownerOf,
  setupWorld,
  startHugeWalk,
  startUnshare,
  UNSHARE,
  type Unshare,
  unshareBlocked,
  unshareDone,
  unshareNext,
  unshareStep,
} from "../kernel/hugetlb.js";
import { DONE, STEP } from "../kernel/steps.js";
import type { Memory } from "../memory/layout.js";
import {
  allCpus,
  CTL,
  FRAME,
  PMD_HUGE,
  PMD_TABLE,
  pmdId,
  pmdKind,
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

/** mms per world: A and B unshare, C is the remaining owner (the last-sharer rule needs three). */
export const UNSHARE_MMS = 3;

const OUTCOMES: readonly OutcomeDecl[] = [
  {
    key: "foreign-pin",
    grade: "FORBIDDEN",
    actor: "walker",
    tag: "race",
    text: "GUP-fast in one mm returned a page of another mm, reachable only through T after this mm stopped sharing it",
  },
  {
    key: "pinned",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "pinned",
    text: "every entry pinned: the shared file's folios, or the walker's own",
  },
  {
    key: "backoff-pmd-leaf",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at HG6: the entry in T changed after the grab",
  },
  {
    key: "backoff-pud",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "walker",
    tag: "backoff",
    window: true,
    text: "back-off at HG7: the PUD changed after the grab (PUD re-check)",
  },
  {
    key: "fallback-pud",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "no PUD at HG1 (unshared): slow path",
  },
  {
    key: "fallback-pmd",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "no entry in T at HG3: slow path",
  },
  {
    key: "fallback-grab",
    grade: "ACCEPTABLE",
    actor: "walker",
    tag: "fallback",
    text: "refcount zero at HG5: slow path",
  },
  {
    key: "unshared-reused",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "committed",
    text: "every sharer but the last unshared T; the last reused it",
  },
  {
    key: "unshared-waited",
    grade: "ACCEPTABLE_INTERESTING",
    actor: "mutator",
    tag: "committed",
    window: true,
    text: "the same, and an unshare's IPI had to wait for a CPU with interrupts off",
  },
  {
    key: "reshared",
    grade: "ACCEPTABLE",
    actor: "mutator",
    tag: "follow-up",
    text: "the file mapped in T again, every PUD at T (huge_pmd_share)",
  },
  UNDECLARED_OUTCOME,
];

const O = (key: string): number => outcomeIndex({ outcomes: OUTCOMES }, key);
const FOREIGN = O("foreign-pin");
const UNDECLARED = O("undeclared");

const WALK_OUTCOME: Record<number, number> = {
  [HWALK.PINNED]: O("pinned"),
  [HWALK.BACKOFF_PMD]: O("backoff-pmd-leaf"),
  [HWALK.BACKOFF_PUD]: O("backoff-pud"),
  [HWALK.FALLBACK_PUD]: O("fallback-pud"),
  [HWALK.FALLBACK_PMD]: O("fallback-pmd"),
  [HWALK.FALLBACK_GRAB]: O("fallback-grab"),
};

const UNSHARE_OUTCOME: Record<number, number> = {
  [UNSHARE.REUSED]: O("unshared-reused"),
  [UNSHARE.REUSED_WAITED]: O("unshared-waited"),
  [UNSHARE.RESHARED]: O("reshared"),
  [UNSHARE.IDLE]: -1,
};

let confirmSerial = 0;

const mmName = (k: number): string => String.fromCharCode(65 + k);

/**
 * Grade one walk whose pins are still held. Every returned page must be one
 * of the shared file's folios (reachable through T while this mm shared it,
 * or through any sharer's mapping since: a walker that only slept is no
 * worse off, David Hildenbrand's argument for the last-sharer rule) or the
 * walker's own mm's. A page another mm owns is the race: the walker reached
 * it through T after its own mm stopped sharing T. Confirmed with data: a
 * value written through the owner's mapping is read through the pin (the
 * leak), or, once the owner's mapping is gone, a value written through the
 * walker's own mapping (what it maps there now, or the file's page a fault
 * would map) is not (selftests/mm/cow.c).
 */
export function gradeHugeWalk(mem: Memory, w: HugeWalk, writerId: number): Verdict {
  for (let k = 0; k < w.nr; k++) {
    const f = w.frames[k];
    const j = w.indexes[k];
    const ref = mem.load(mem.frame(f, FRAME.refcount));
    if (ref < w.bias) return undeclared(`frame ${f} lost its pin (refcount ${ref})`);
    const owner = mem.load(mem.frame(f, FRAME.region));
    if (owner === fileOwner(w.region) || owner === ownerOf(w.region, w.mm)) continue;
    if (owner >> 3 !== w.region)
      return undeclared(`frame ${f} belongs to world ${owner >> 3}, walked in world ${w.region}`);
    // A consistent look: no operation began or ran on the world meanwhile.
    const opsBefore = mem.load(CTL.opSerial);
    const inFlight = mem.load(mem.region(w.region, REGION.inFlight));
    const theirs = hugeTranslate(mem, w.region, owner & 7, j);
    const mine = hugeTranslate(mem, w.region, w.mm, j);
    if (inFlight !== 0 || mem.load(CTL.opSerial) !== opsBefore) return pending();
    const tag = 0x40000000 | (writerId << 22) | (++confirmSerial & 0x3fffff) | 0;
    let confirmed = false;
    if (theirs === f) {
      mem.store(mem.frameData(theirs), tag);
      confirmed = mem.load(mem.frameData(f)) === tag;
    } else {
      // The walker's mm's page at this address: what it maps now, or (its
      // PUD gone) the file's page a fault there would map.
      const page = mine >= 0 ? mine : fileBase(mem, w.region) + j * mem.geo.ptes;
      mem.store(mem.frameData(page), tag);
      confirmed = mem.load(mem.frameData(f)) !== tag;
    }
    return { outcome: FOREIGN, frame: f, index: j, confirmed, detail: "" };
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

const entryText = (v: number): string =>
  pmdKind(v) === PMD_HUGE ? `folio ${pmdId(v)}` : pmdKind(v) === PMD_TABLE ? "a table" : "none";
const pudText = (v: number): string =>
  pmdKind(v) === PMD_TABLE ? `T = table ${pmdId(v)}` : v === 0 ? "none" : `${v}`;

function describe(s: { step: string; index: number; frame: number; value: number; text: string }) {
  switch (s.step) {
    case "G0":
      return `G0 local_irq_save (in mm ${mmName(s.value)})`;
    case "HG1":
      return `HG1 read mm ${mmName(s.index)}'s pud (${pudText(s.value)})`;
    case "HG3":
      return `HG3 read entry ${s.index} in T (${entryText(s.value)})`;
    case "HG5":
      return `HG5 grab folio ${s.frame}${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "HG7":
      return `HG7 re-check mm ${mmName(s.index)}'s pud (${pudText(s.value)})`;
    case "HG6":
      return `HG6 re-check entry ${s.index} in T (${entryText(s.value)})`;
    case "G8":
      return `G8 return entry ${s.index} (folio ${s.frame})`;
    case "HU0":
      return "HU0 take the unshare's locks (i_mmap_rwsem, hugetlb VMA lock)";
    case "HU1":
      return `HU1 huge_pmd_unshare in mm ${mmName(s.index)}: pud_clear, share count now ${s.frame}${s.frame === 0 ? " (T exclusive)" : ""}`;
    case "HU2":
      return `HU2 flush mm ${mmName(s.index)}'s TLB: IPI to ${s.value} CPU${s.value === 1 ? "" : "s"} of its mm_cpumask`;
    case "HU2W":
      return "HU2W flush IPI: all acks in";
    case "HU3":
      return s.value < 0
        ? "HU3 no sync IPI: T still shared"
        : `HU3 tlb_remove_table_sync_one after mm ${mmName(s.index)}: IPI to ${s.value} CPU${s.value === 1 ? "" : "s"}`;
    case "HU3W":
      return "HU3W sync IPI: all acks in";
    case "HU4":
      return `HU4 mm ${mmName(s.index)}, T's last owner, reuses T: every entry -> its own folios (from ${s.frame})`;
    case "HU5":
      return "HU5 the file mapped in T again";
    case "HU6":
      return `HU6 huge_pmd_share in every mm but ${mmName(s.index)}: pud -> T again`;
    case "IPI":
      return "IPI handler (ack)";
    default:
      return `${s.step} ${s.text}`;
  }
}

export const gupVsHugetlbUnshare: Scenario = {
  name: "gup-vs-hugetlb-unshare",
  summary:
    "GUP-fast against hugetlb PMD-table unsharing (CVE-2025-38085, 1013af4f585f), and the IPI policies since",
  roles: { mutator: "hugetlb unshare", walker: "GUP-fast" },
  fixes: [
    {
      name: "none",
      summary:
        "no sync IPI after huge_pmd_unshare, broadcast TLB flush (arm64 before 1013af4f585f)",
      expect: "race",
      minCpus: 2,
      knobs: {},
    },
    {
      name: "ipi-per-unshare",
      summary: "1013af4f585f: tlb_remove_table_sync_one (IPI to all, wait) after every unshare",
      expect: "clean",
      minCpus: 2,
      knobs: { unshareSync: "all" },
    },
    {
      name: "last-sharer-batched",
      summary:
        "Dec 2025 (David Hildenbrand): IPI to all only when T becomes exclusively owned, once per mmu_gather",
      expect: "clean",
      minCpus: 2,
      knobs: { unshareSync: "all", unshareSyncLastOnly: true },
    },
    {
      name: "targeted",
      summary: "IPI to the unsharer mm's mm_cpumask (not all CPUs) after every unshare",
      expect: "clean",
      minCpus: 2,
      knobs: { unshareSync: "mm" },
    },
    {
      name: "last-sharer-targeted",
      summary:
        "the open composition: IPI only when T becomes exclusive, and only to the last unsharer's mm_cpumask",
      expect: "race",
      minCpus: 2,
      knobs: { unshareSync: "mm", unshareSyncLastOnly: true },
    },
    {
      name: "last-sharer-targeted-union",
      summary:
        "last-sharer-targeted, but T remembers the mm_cpumask of every mm that unshared it since its last sync, and the IPI goes to their union",
      expect: "clean",
      minCpus: 2,
      knobs: { unshareSync: "mm", unshareSyncLastOnly: true, unshareSyncUnion: true },
    },
    {
      name: "pud-recheck",
      summary: "no IPI; GUP-fast re-checks the PUD after the grab, before the entry in T",
      expect: "clean",
      minCpus: 2,
      knobs: { recheckPud: true },
    },
    {
      name: "x86-flush-ipi",
      summary:
        "no sync IPI, but the unsharer's TLB flush IPIs its mm_cpumask and waits (x86 bare metal)",
      expect: "clean",
      minCpus: 2,
      knobs: { unshareFlushIpi: true },
    },
  ],
  mutants: [
    {
      id: "pud-recheck-after-pmd",
      fix: "pud-recheck~recheckPudLast=true",
      text: "the PUD re-checked after the entry in T, not before: T reused and put back between the two re-checks passes both",
      // The follow-up (T put back, A sharing it again) must land between the
      // two re-checks: freerun runs it on the world's next visit.
      stress: {
        mode: "freerun",
        regions: 2,
        holdPins: 1,
        delays: [{ point: "HG6", maxNs: 50_000, prob: 0.5 }],
      },
    },
    {
      id: "unshare-sync-no-wait",
      fix: "ipi-per-unshare~ipiWait=false",
      text: "1013af4f585f's IPI sent without waiting for the acks",
    },
    {
      id: "unshare-sync-irq-off",
      fix: "ipi-per-unshare~ipiWhileIrqOff=true",
      text: "GUP-fast CPUs take the sync IPI with interrupts off",
    },
  ],
  outcomes: OUTCOMES,
  defaultDelays: [
    { point: "start", maxNs: 1500, prob: 1 },
    // The unsharer holds its locks a while, so that a walker that arrives
    // late (woken from its doorbell, on a loaded machine: up to milliseconds)
    // still reads its PUD before the unshare; the walker then stalls.
    { point: "HU0", maxNs: 20_000, prob: 0.5 },
    { point: "HU0", maxNs: 300_000, prob: 0.1 },
    { point: "HU0", maxNs: 3_000_000, prob: 0.01 },
    { point: "HG1", maxNs: 20_000, prob: 0.5 },
    { point: "HG1", maxNs: 100_000, prob: 0.05 },
  ],
  phases: 2,
  opFirstSteps: [STEP.HU0, STEP.HU5],
  frames({ cpus, regions, ptes, heldWalks }) {
    // Each world: the file's folios and the owner's private ones; each walk
    // held across operations may keep a released private folio per entry.
    return (regions * 2 * ptes + (cpus - 1) * heldWalks * ptes + 2) * ptes;
  },
  setup(mem) {
    for (let r = 0; r < mem.geo.regions; r++) setupWorld(mem, r, UNSHARE_MMS);
  },
  mutator: {
    create: (cpu) => newUnshare(cpu.fix, allCpus(cpu.mem.geo), UNSHARE_MMS),
    start: (cpu, op, region, phase) => startUnshare(cpu, op as Unshare, region, phase),
    step: (cpu, op) => unshareStep(cpu, op as Unshare),
    done: (op) => unshareDone(op as Unshare),
    next: (op) => unshareNext(op as Unshare),
    blocked: (mem, op) => unshareBlocked(mem, op as Unshare),
    outcome: (op) => UNSHARE_OUTCOME[(op as Unshare).result] ?? UNDECLARED,
  },
  walker: {
    create: (ptes) => newHugeWalk(ptes, UNSHARE_MMS),
    start: (w, region, first, count) => startHugeWalk(w as HugeWalk, region, first, count),
    step: (cpu, w) => hugeWalkStep(cpu, w as HugeWalk),
    done: (w) => (w as HugeWalk).pc === DONE,
    next: (w) => (w as HugeWalk).pc,
    grade: (mem, w, writerId) => gradeHugeWalk(mem, w as HugeWalk, writerId),
    release: (cpu, w) => hugeUnpinAll(cpu, w as HugeWalk),
    pages: (w) => (w as HugeWalk).nr,
    region: (w) => (w as HugeWalk).region,
    span: (w) => [(w as HugeWalk).startClock, (w as HugeWalk).endClock],
  },
  describe,
};
