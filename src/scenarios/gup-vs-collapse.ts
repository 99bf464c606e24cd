// Scenario: GUP-fast against THP collapse (MODEL.md sections 1 and 6).
// Its initial state, the outcomes it can produce with their grades, and the
// oracle that tells them apart by looking at memory alone: the oracle never
// sees which fix is running.

import { COLLAPSE } from "../kernel/collapse.js";
import { populateRegion } from "../kernel/frames.js";
import { WALK } from "../kernel/gup.js";
import type { Memory } from "../memory/layout.js";
import {
  FRAME,
  FRAME_MAPPED,
  FRAME_RELEASED,
  PMD_HUGE,
  PMD_TABLE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
  REGION,
  STAT,
} from "../memory/layout.js";

export const SCENARIO = "gup-vs-collapse";

export type Grade = "ACCEPTABLE" | "ACCEPTABLE_INTERESTING" | "FORBIDDEN";

export interface OutcomeDecl {
  key: string;
  grade: Grade;
  /** the statistics counter that counts it */
  stat: number;
  text: string;
}

/** Every outcome this scenario declares. Anything else the oracle sees is "undeclared": FORBIDDEN. */
export const OUTCOMES: readonly OutcomeDecl[] = [
  {
    key: "stale-pin",
    grade: "FORBIDDEN",
    stat: STAT.races,
    text: "GUP-fast returned a page that a committed collapse released",
  },
  {
    key: "pinned",
    grade: "ACCEPTABLE",
    stat: STAT.outcomePinned,
    text: "every page pinned, all still mapped",
  },
  {
    key: "backoff-pmd",
    grade: "ACCEPTABLE_INTERESTING",
    stat: STAT.backoffPmd,
    text: "back-off at G6: pmd changed after the pin",
  },
  {
    key: "backoff-pte",
    grade: "ACCEPTABLE_INTERESTING",
    stat: STAT.backoffPte,
    text: "back-off at G7: pte changed after the pin",
  },
  {
    key: "fallback-pmd",
    grade: "ACCEPTABLE",
    stat: STAT.fallbackPmd,
    text: "no pte table at G1 (none or huge): slow path",
  },
  {
    key: "fallback-pte",
    grade: "ACCEPTABLE",
    stat: STAT.fallbackPte,
    text: "pte not present at G3: slow path",
  },
  {
    key: "fallback-grab",
    grade: "ACCEPTABLE",
    stat: STAT.fallbackGrab,
    text: "refcount zero at G5 (page being freed): slow path",
  },
  {
    key: "collapse-committed",
    grade: "ACCEPTABLE",
    stat: STAT.collapseCommitted,
    text: "collapse installed the huge pmd (K10)",
  },
  {
    key: "collapse-aborted-scan",
    grade: "ACCEPTABLE",
    stat: STAT.collapseAbortedScan,
    text: "collapse not tried: the K0 scan saw a pinned or missing page",
  },
  {
    key: "collapse-aborted-pin",
    grade: "ACCEPTABLE_INTERESTING",
    stat: STAT.collapseAbortedIsolate,
    text: "collapse aborted by a pin at K6, pmd restored (K7)",
  },
  {
    key: "undeclared",
    grade: "FORBIDDEN",
    stat: STAT.undeclared,
    text: "an outcome this scenario does not declare",
  },
];

export const OUTCOME_KEYS = OUTCOMES.map((o) => o.key);

const byStat = new Map(OUTCOMES.map((o) => [o.stat, o]));
export function outcomeOfStat(stat: number): OutcomeDecl | undefined {
  return byStat.get(stat);
}

/** Build the initial state: every region a pte table of fresh small pages. */
export function setupRegions(mem: Memory): void {
  for (let r = 0; r < mem.geo.regions; r++) populateRegion(mem, r, dataTag(r, 0));
}

/** The data word a fresh small page gets: differs per region and round. */
export function dataTag(region: number, round: number): number {
  return ((round & 0x7fff) << 16) | ((region & 0xff) << 8);
}

/** The stat counter of a collapse result. */
export function collapseOutcomeStat(result: number): number {
  switch (result) {
    case COLLAPSE.COMMITTED:
      return STAT.collapseCommitted;
    case COLLAPSE.ABORTED_SCAN:
    case COLLAPSE.NOT_TABLE:
      return STAT.collapseAbortedScan;
    case COLLAPSE.ABORTED_ISOLATE:
      return STAT.collapseAbortedIsolate;
    default:
      return STAT.undeclared;
  }
}

const WALK_STAT: Record<number, number> = {
  [WALK.PINNED]: STAT.outcomePinned,
  [WALK.BACKOFF_PMD]: STAT.backoffPmd,
  [WALK.BACKOFF_PTE]: STAT.backoffPte,
  [WALK.FALLBACK_PMD]: STAT.fallbackPmd,
  [WALK.FALLBACK_PTE]: STAT.fallbackPte,
  [WALK.FALLBACK_GRAB]: STAT.fallbackGrab,
};

/** What a walk returned to its caller, as the oracle needs it. */
export interface WalkRecord {
  region: number;
  result: number;
  nr: number;
  frames: ArrayLike<number>;
  indexes: ArrayLike<number>;
  /** refcount each returned page holds for this walk */
  bias: number;
}

export interface Verdict {
  /** a STAT counter of OUTCOMES, or -1 when it cannot be decided yet (a collapse in flight) */
  stat: number;
  /** the first stale frame and its pte index, -1 if none */
  frame: number;
  index: number;
  confirmed: boolean;
  /** for undeclared outcomes: what was seen */
  detail: string;
}

/** Where address (region, j) points now: [frame, data word index], or null. */
export function translate(mem: Memory, region: number, j: number): [number, number] | null {
  const pmd = mem.load(mem.pmd(region));
  if (pmdKind(pmd) === PMD_HUGE) return [pmdId(pmd), j];
  if (pmdKind(pmd) !== PMD_TABLE) return null;
  const pte = mem.load(mem.pte(pmdId(pmd), j));
  return ptePresent(pte) ? [pteFrame(pte), 0] : null;
}

let confirmSerial = 0;

/**
 * Grade one walk whose pins are still held (MODEL.md section 6). A page is a
 * stale pin when the walk returned it, still pins it, and a collapse that
 * committed unmapped it. Each one is confirmed the way selftests/mm/cow.c
 * checks pins: write through the current mapping, read through the pin.
 */
export function gradeWalk(mem: Memory, w: WalkRecord, writerId: number): Verdict {
  for (let k = 0; k < w.nr; k++) {
    const f = w.frames[k];
    const j = w.indexes[k];
    const ref = mem.load(mem.frame(f, FRAME.refcount));
    if (ref < w.bias) {
      return undeclared(`frame ${f} lost its pin (refcount ${ref})`);
    }
    const state = mem.load(mem.frame(f, FRAME.state));
    if (state === FRAME_MAPPED) continue;
    if (state !== FRAME_RELEASED) return undeclared(`pinned frame ${f} in state ${state}`);
    const serial = mem.load(mem.frame(f, FRAME.releasedBy));
    // Unmapped by something that is not collapse: the GUP contract allows it.
    if (serial === 0) continue;
    const committed = mem.load(mem.region(w.region, REGION.committed));
    if (committed - serial < 0) {
      if (mem.load(mem.region(w.region, REGION.collapsing)) === serial) return pending();
      return undeclared(`frame ${f} released by collapse ${serial}, which never committed`);
    }
    const where = translate(mem, w.region, j);
    if (where === null) return pending();
    const tag = (0x40000000 | (writerId << 22) | (++confirmSerial & 0x3fffff)) >>> 0;
    mem.store(mem.frameData(where[0], where[1]), tag);
    const throughPin = mem.load(mem.frameData(f, 0));
    const confirmed = throughPin !== (tag | 0) && where[0] !== f;
    if (!confirmed)
      return undeclared(`frame ${f} released by collapse ${serial} but still sees writes`);
    return { stat: STAT.races, frame: f, index: j, confirmed: true, detail: "" };
  }
  const stat = WALK_STAT[w.result];
  if (stat === undefined) return undeclared(`walk ended with result ${w.result}`);
  return { stat, frame: -1, index: -1, confirmed: false, detail: "" };
}

function undeclared(detail: string): Verdict {
  return { stat: STAT.undeclared, frame: -1, index: -1, confirmed: false, detail };
}

function pending(): Verdict {
  return { stat: -1, frame: -1, index: -1, confirmed: false, detail: "" };
}
