// The page allocator and reference counts. Only CPU 0 (collapse) and the
// main thread before the run allocate; any CPU may drop the last reference.

import type { Memory } from "../memory/layout.js";
import {
  CTL,
  FRAME,
  FRAME_FREE,
  FRAME_MAPPED,
  FRAME_RELEASED,
  makePte,
  makeTablePmd,
  PMD_HUGE,
  PMD_TABLE,
  PTE_NONE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
  REGION,
} from "../memory/layout.js";

/** FOLL_PIN adds this much to the refcount (GUP_PIN_COUNTING_BIAS). */
export const GUP_PIN_COUNTING_BIAS = 1024;

export class OutOfFrames extends Error {}

/** Take a free frame: refcount 1 (the mapping's reference), mapcount as given. */
export function allocFrame(
  mem: Memory,
  state: number,
  region: number,
  index: number,
  mapcount: number,
): number {
  const n = mem.geo.frames;
  const cursor = mem.load(CTL.allocCursor);
  for (let k = 0; k < n; k++) {
    const f = (cursor + k) % n;
    if (mem.load(mem.frame(f, FRAME.state)) !== FRAME_FREE) continue;
    // add-unless-zero pins cannot touch a zero refcount, so 0 -> 1 is ours alone.
    if (Atomics.compareExchange(mem.i32, mem.frame(f, FRAME.refcount), 0, 1) !== 0) continue;
    mem.store(mem.frame(f, FRAME.mapcount), mapcount);
    mem.store(mem.frame(f, FRAME.region), region);
    mem.store(mem.frame(f, FRAME.index), index);
    mem.store(mem.frame(f, FRAME.releasedBy), 0);
    mem.store(mem.frame(f, FRAME.state), state);
    mem.store(CTL.allocCursor, (f + 1) % n);
    return f;
  }
  throw new OutOfFrames(
    `no free frame among ${n}: pins are held too long or the pool is too small`,
  );
}

/** try_grab_folio: refcount += bias unless it is zero. */
export function tryGrab(mem: Memory, f: number, bias: number): boolean {
  const i = mem.frame(f, FRAME.refcount);
  let ref = Atomics.load(mem.i32, i);
  for (;;) {
    if (ref === 0) return false;
    const seen = Atomics.compareExchange(mem.i32, i, ref, ref + bias);
    if (seen === ref) return true;
    ref = seen;
  }
}

/** Drop `bias` references; the last one frees a frame nothing maps. */
export function putFrame(mem: Memory, f: number, bias: number): void {
  const left = Atomics.sub(mem.i32, mem.frame(f, FRAME.refcount), bias) - bias;
  if (left === 0) mem.store(mem.frame(f, FRAME.state), FRAME_FREE);
  else if (left < 0) throw new Error(`frame ${f}: refcount went negative (${left})`);
}

/**
 * Unmap a small page: mapcount 0, state RELEASED (kept alive by any pin),
 * then drop the mapping's reference. `serial` names the collapse (0: not collapse).
 */
export function releaseMapped(mem: Memory, f: number, serial: number): void {
  mem.store(mem.frame(f, FRAME.mapcount), 0);
  mem.store(mem.frame(f, FRAME.releasedBy), serial);
  mem.store(mem.frame(f, FRAME.state), FRAME_RELEASED);
  putFrame(mem, f, 1);
}

/**
 * Give region r a fresh PTE table of small pages (new generation, so the
 * pmd value differs from any earlier one). Whatever the region mapped before
 * is released first; pins keep those frames alive, unmapped.
 */
export function populateRegion(mem: Memory, r: number, dataTag: number): void {
  const pmdIdx = mem.pmd(r);
  const pmd = mem.load(pmdIdx);
  if (pmdKind(pmd) === PMD_HUGE) {
    const h = pmdId(pmd);
    mem.store(pmdIdx, 0);
    releaseMapped(mem, h, 0);
  } else if (pmdKind(pmd) === PMD_TABLE) {
    mem.store(pmdIdx, 0);
    for (let j = 0; j < mem.geo.ptes; j++) {
      const pi = mem.pte(r, j);
      const pte = mem.load(pi);
      mem.store(pi, PTE_NONE);
      if (ptePresent(pte)) releaseMapped(mem, pteFrame(pte), 0);
    }
  }
  for (let j = 0; j < mem.geo.ptes; j++) {
    const f = allocFrame(mem, FRAME_MAPPED, r, j, 1);
    mem.store(mem.frameData(f, 0), dataTag + j);
    mem.store(mem.pte(r, j), makePte(f));
  }
  const gen = (mem.load(mem.region(r, REGION.gen)) + 1) & 0xff;
  mem.store(mem.region(r, REGION.gen), gen);
  mem.store(pmdIdx, makeTablePmd(r, gen));
}
