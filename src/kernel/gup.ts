// GUP-fast, one step at a time (mm/gup.c about v6.1: lockless_pages_from_mm ->
// gup_pgd_range -> gup_pmd_range -> gup_pte_range / gup_fast_pmd_leaf). Steps
// G0..G9 as in docs/model.md, then GU (unpin) once the caller is done with a page.
//
// The ordering rule every mutator is tested against (the comment above
// gup_pte_range): the walker pins, THEN re-checks what it read; a mutator
// clears an entry, THEN checks whether the page is pinned. Either side seeing
// the other's write is what closes a race; a scenario whose mutator breaks the
// rule is a race the oracle will see.

import {
  FRAME,
  PMD_HUGE,
  PMD_TABLE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
} from "../memory/layout.js";
import type { Cpu } from "./cpu.js";
import { GUP_PIN_COUNTING_BIAS, putFolio, tryGrab } from "./frames.js";
import { irqOff, irqOn } from "./irq.js";
import { DONE, STEP } from "./steps.js";

/** How a walk ended (what lockless_pages_from_mm reports to its caller). */
export const WALK = {
  RUNNING: 0,
  /** every page of the range returned */
  PINNED: 1,
  /** G6: pmd changed after the pin; ref dropped, stop */
  BACKOFF_PMD: 2,
  /** G7: pte changed after the pin; ref dropped, stop */
  BACKOFF_PTE: 3,
  /** G1: pmd is none (or being split): slow path */
  FALLBACK_PMD: 4,
  /** G3: pte not present: slow path */
  FALLBACK_PTE: 5,
  /** G5: refcount was zero (page being freed): slow path */
  FALLBACK_GRAB: 6,
  /** G6H: the huge pmd changed after the folio was pinned; refs dropped */
  BACKOFF_LEAF: 7,
  /** every page of the range returned from a huge pmd (gup_fast_pmd_leaf) */
  PINNED_HUGE: 8,
  /** GR: the page's compound head changed after the grab (a split); ref dropped */
  BACKOFF_HEAD: 9,
} as const;

export interface GupWalk {
  /** next step to run; DONE when the walk is over */
  pc: number;
  region: number;
  /** pte index range [start, end) */
  start: number;
  end: number;
  j: number;
  /** G1's snapshot, by value */
  pmd: number;
  /** recheckPmdLive only: the pmd re-read just before the pin */
  pmdLive: number;
  table: number;
  pte: number;
  frame: number;
  /** the folio head the current refs are held on, and how many (between G5 and G8 or a back-off) */
  folio: number;
  refs: number;
  /** whether the current page's ref is held (between G5 and G8 or a back-off) */
  grabbed: boolean;
  /** pages returned (passed G7): frames, their pte indexes, and the folios pinned for them */
  nr: number;
  frames: Int32Array;
  indexes: Int32Array;
  folios: Int32Array;
  result: number;
  /** refcount added per pin: GUP_PIN_COUNTING_BIAS (FOLL_PIN) or 1 (FOLL_GET) */
  bias: number;
  /** global clock of G0 and G9, to cut the walk out of the trace */
  startClock: number;
  endClock: number;
}

export function newWalk(ptes: number): GupWalk {
  return {
    pc: DONE,
    region: 0,
    start: 0,
    end: 0,
    j: 0,
    pmd: 0,
    pmdLive: 0,
    table: 0,
    pte: 0,
    frame: -1,
    folio: -1,
    refs: 0,
    grabbed: false,
    nr: 0,
    frames: new Int32Array(ptes),
    indexes: new Int32Array(ptes),
    folios: new Int32Array(ptes),
    result: WALK.RUNNING,
    bias: GUP_PIN_COUNTING_BIAS,
    startClock: 0,
    endClock: 0,
  };
}

/** Arm a walk of pages [start, start + count) of region r. */
export function startWalk(w: GupWalk, region: number, start: number, count: number): void {
  w.pc = STEP.G0;
  w.region = region;
  w.start = start;
  w.end = start + count;
  w.j = start;
  w.nr = 0;
  w.frame = -1;
  w.grabbed = false;
  w.result = WALK.RUNNING;
}

/** The step after the pin (G5) or after G6 when G6 runs first. */
function afterPin(cpu: Cpu): number {
  const fix = cpu.fix;
  if (fix.recheckPmd && !fix.recheckBeforePin) return STEP.G6;
  return fix.recheckPte ? STEP.G7 : STEP.G8;
}

function backOff(cpu: Cpu, w: GupWalk, result: number): void {
  if (w.grabbed) putFolio(cpu.mem, w.folio, w.refs);
  w.grabbed = false;
  w.result = result;
  w.pc = STEP.G9;
}

/** Run the walk's next step. Returns the step that ran, or DONE. */
export function gupFastStep(cpu: Cpu, w: GupWalk): number {
  const mem = cpu.mem;
  const step = w.pc;
  switch (step) {
    case STEP.G0:
      irqOff(cpu);
      w.startClock = cpu.trace(step, w.region, w.start, -1, 0);
      w.pc = STEP.G1;
      break;
    case STEP.G1: {
      const t = cpu.stamp();
      w.pmd = Atomics.load(mem.i32, mem.pmd(w.region));
      cpu.traceRead(t, step, w.region, w.start, -1, w.pmd);
      const kind = pmdKind(w.pmd);
      if (kind === PMD_TABLE) w.pc = STEP.G2;
      else if (kind === PMD_HUGE) w.pc = STEP.G5H;
      else {
        w.result = WALK.FALLBACK_PMD;
        w.pc = STEP.G9;
      }
      break;
    }
    case STEP.G5H:
    case STEP.G6H:
      // Out of line: the huge-pmd leaf is the rare path, and keeping this
      // switch small keeps the pte path's loads inlined (docs/bench.md).
      pmdLeafStep(cpu, w, step);
      break;
    case STEP.G2:
      // The table comes from the snapshot, not from a re-read of *pmdp.
      w.table = pmdId(w.pmd);
      cpu.trace(step, w.region, w.j, -1, w.table);
      w.pc = STEP.G3;
      break;
    case STEP.G3: {
      const t = cpu.stamp();
      w.pte = Atomics.load(mem.i32, mem.pte(w.table, w.j));
      const present = ptePresent(w.pte);
      w.frame = present ? pteFrame(w.pte) : -1;
      cpu.traceRead(t, step, w.region, w.j, w.frame, w.pte);
      if (!present) {
        w.result = WALK.FALLBACK_PTE;
        w.pc = STEP.G9;
      } else
        w.pc =
          cpu.fix.recheckPmd && cpu.fix.recheckBeforePin
            ? STEP.G6
            : cpu.fix.headRead
              ? STEP.GH
              : STEP.G5;
      break;
    }
    case STEP.GH:
    case STEP.GG:
    case STEP.GR:
      // Out of line, like the pmd leaf: only gup-vs-split's fixes take these.
      headStep(cpu, w, step);
      break;
    case STEP.G5: {
      if (cpu.fix.recheckPmdLive) w.pmdLive = mem.load(mem.pmd(w.region));
      w.folio = Atomics.load(mem.i32, mem.frame(w.frame, FRAME.head));
      w.refs = w.bias;
      const ok = tryGrab(mem, w.folio, w.refs);
      cpu.trace(step, w.region, w.j, w.frame, ok ? 1 : 0);
      if (!ok) {
        w.result = WALK.FALLBACK_GRAB;
        w.pc = STEP.G9;
        break;
      }
      w.grabbed = true;
      w.pc = afterPin(cpu);
      break;
    }
    case STEP.G6: {
      // Stops the collapse race (70cbc3cc78a9): if the pin landed after
      // collapse's K6 checked this page, it also landed after K4 cleared the
      // pmd, so the pmd no longer matches the snapshot and we back off. It
      // compares raw values, as pmd_val does: the same table put back (K7, a
      // failed copy, a THP split) passes it, and only G7 is left (the ABA).
      const t = cpu.stamp();
      const live = Atomics.load(mem.i32, mem.pmd(w.region));
      const expected = cpu.fix.recheckPmdLive ? w.pmdLive : w.pmd;
      cpu.traceRead(t, step, w.region, w.j, w.frame, live);
      if (live !== expected) backOff(cpu, w, WALK.BACKOFF_PMD);
      else if (cpu.fix.recheckBeforePin) w.pc = STEP.G5;
      else w.pc = cpu.fix.recheckPte ? STEP.G7 : STEP.G8;
      break;
    }
    case STEP.G7: {
      // Stops zap/migration races: the pte must still map this page after the pin.
      const t = cpu.stamp();
      const live = Atomics.load(mem.i32, mem.pte(w.table, w.j));
      cpu.traceRead(t, step, w.region, w.j, w.frame, live);
      if (live !== w.pte) backOff(cpu, w, WALK.BACKOFF_PTE);
      else w.pc = STEP.G8;
      break;
    }
    case STEP.G8:
      w.frames[w.nr] = w.frame;
      w.indexes[w.nr] = w.j;
      w.folios[w.nr] = w.folio;
      w.nr++;
      w.grabbed = false;
      cpu.trace(step, w.region, w.j, w.frame, w.nr);
      w.j++;
      if (w.j < w.end) w.pc = STEP.G3;
      else {
        w.result = WALK.PINNED;
        w.pc = STEP.G9;
      }
      break;
    case STEP.G9:
      irqOn(cpu);
      w.endClock = cpu.trace(step, w.region, w.j, -1, w.nr);
      w.pc = DONE;
      break;
    default:
      throw new Error(`gupFastStep: no step ${step}`);
  }
  return step;
}

/** G5H and G6H: gup_fast_pmd_leaf, for a huge pmd seen at G1. */
function pmdLeafStep(cpu: Cpu, w: GupWalk, step: number): void {
  const mem = cpu.mem;
  switch (step) {
    case STEP.G5H: {
      // gup_fast_pmd_leaf: one grab on the folio for every page of the range.
      w.folio = pmdId(w.pmd);
      w.refs = (w.end - w.start) * w.bias;
      const ok = tryGrab(mem, w.folio, w.refs);
      cpu.trace(step, w.region, w.start, w.folio, ok ? 1 : 0);
      if (!ok) {
        w.result = WALK.FALLBACK_GRAB;
        w.pc = STEP.G9;
        break;
      }
      w.grabbed = true;
      w.pc = STEP.G6H;
      break;
    }
    case STEP.G6H: {
      // Unconditional in the kernel (not fix 2): a huge pmd split or zapped
      // after the grab means the folio may no longer back these addresses.
      const t = cpu.stamp();
      const live = mem.load(mem.pmd(w.region));
      cpu.traceRead(t, step, w.region, w.start, w.folio, live);
      if (live !== w.pmd) {
        backOff(cpu, w, WALK.BACKOFF_LEAF);
        break;
      }
      for (let j = w.start; j < w.end; j++) {
        w.frames[w.nr] = w.folio + j;
        w.indexes[w.nr] = j;
        w.folios[w.nr] = w.folio;
        w.nr++;
      }
      w.grabbed = false;
      w.j = w.end;
      w.result = WALK.PINNED_HUGE;
      w.pc = STEP.G9;
      break;
    }
  }
}

/**
 * GH, GG, GR: try_grab_folio as two loads apart (headRead): read the page's
 * compound head, then add-unless-zero on that head; and, with recheckHead,
 * c24d37322548's re-check that the page's head is still the folio grabbed
 * (a split in between rewrote it, and the old head may be another page now).
 */
function headStep(cpu: Cpu, w: GupWalk, step: number): void {
  const mem = cpu.mem;
  switch (step) {
    case STEP.GH: {
      const t = cpu.stamp();
      w.folio = Atomics.load(mem.i32, mem.frame(w.frame, FRAME.head));
      cpu.traceRead(t, step, w.region, w.j, w.frame, w.folio);
      w.pc = cpu.fix.recheckHead && cpu.fix.recheckHeadBeforeGrab ? STEP.GR : STEP.GG;
      break;
    }
    case STEP.GG: {
      w.refs = w.bias;
      const ok = tryGrab(mem, w.folio, w.refs);
      cpu.trace(step, w.region, w.j, w.folio, ok ? 1 : 0);
      if (!ok) {
        w.result = WALK.FALLBACK_GRAB;
        w.pc = STEP.G9;
        break;
      }
      w.grabbed = true;
      w.pc = cpu.fix.recheckHead && !cpu.fix.recheckHeadBeforeGrab ? STEP.GR : afterPin(cpu);
      break;
    }
    case STEP.GR: {
      // page_folio(page) != folio. Mutants: the grabbed head's own head
      // (recheckHeadOfFolio), or a re-read before the grab (recheckHeadBeforeGrab).
      const of = cpu.fix.recheckHeadOfFolio ? w.folio : w.frame;
      const t = cpu.stamp();
      const head = Atomics.load(mem.i32, mem.frame(of, FRAME.head));
      cpu.traceRead(t, step, w.region, w.j, of, head);
      if (head !== w.folio) backOff(cpu, w, WALK.BACKOFF_HEAD);
      else w.pc = cpu.fix.recheckHeadBeforeGrab ? STEP.GG : afterPin(cpu);
      break;
    }
  }
}

/** GU: the caller is done with the k-th returned page: unpin_user_page (on its folio). */
export function unpinStep(cpu: Cpu, w: GupWalk, k: number): void {
  putFolio(cpu.mem, w.folios[k], w.bias);
  cpu.trace(STEP.GU, w.region, w.indexes[k], w.frames[k], 0);
}

/** GU for every page the walk returned. */
export function unpinAll(cpu: Cpu, w: GupWalk): void {
  for (let k = 0; k < w.nr; k++) unpinStep(cpu, w, k);
}
