// The page allocator, folios and reference counts. Frames come in aligned
// blocks of `ptes`: a huge page is one block as one folio (head first), a
// block of small pages is `ptes` folios of one frame each. Refcount and
// mapcount live on a folio's head (page_folio). Only the mutator CPU and the
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
  pteFrame,
  ptePresent,
  REGION,
} from "../memory/layout.js";

/** FOLL_PIN adds this much to the refcount (GUP_PIN_COUNTING_BIAS). */
export const GUP_PIN_COUNTING_BIAS = 1024;

/** compound_head(page). */
export function headOf(mem: Memory, f: number): number {
  return mem.load(mem.frame(f, FRAME.head));
}

/** References on f's folio beyond its mappings: pins (collapse's K6 shows them). */
export function extraRefs(mem: Memory, f: number): number {
  const h = headOf(mem, f);
  return mem.load(mem.frame(h, FRAME.refcount)) - mem.load(mem.frame(h, FRAME.mapcount));
}

/** is_refcount_suitable: a present pte whose folio has no references beyond its mappings. */
export function refcountSuitable(mem: Memory, pte: number): boolean {
  return ptePresent(pte) && extraRefs(mem, pteFrame(pte)) === 0;
}

/**
 * A free aligned block of `ptes` frames, or -1 (alloc_charge_hpage failed).
 * Free frames have refcount 0, which add-unless-zero pins never touch, so
 * nobody else writes them while we set them up.
 */
export function allocBlock(mem: Memory): number {
  const n = mem.geo.ptes;
  const blocks = mem.geo.frames / n;
  const cursor = mem.load(CTL.allocCursor);
  for (let k = 0; k < blocks; k++) {
    const b = (cursor + k) % blocks;
    let free = true;
    for (let i = 0; i < n && free; i++) {
      free = mem.load(mem.frame(b * n + i, FRAME.state)) === FRAME_FREE;
    }
    if (!free) continue;
    mem.store(CTL.allocCursor, (b + 1) % blocks);
    return b * n;
  }
  return -1;
}

/**
 * Make frames [base, base + order) one folio: head `base`, `refs` references
 * and `maps` mappings on the head, every frame in `state` and given its
 * ghost region and page index (region, first + i).
 */
export function makeFolio(
  mem: Memory,
  base: number,
  order: number,
  state: number,
  region: number,
  first: number,
  refs: number,
  maps: number,
): void {
  // Plain stores: nobody can grab a free frame (refcount 0), and the seq-cst
  // store of the refcount below publishes them all (a release, as the
  // kernel's set_page_count after prep_new_page). Atomics here were a
  // microsecond per huge page, enough to shift every race window.
  const i32 = mem.i32;
  for (let i = 0; i < order; i++) {
    const f = base + i;
    i32[mem.frame(f, FRAME.head)] = base;
    i32[mem.frame(f, FRAME.order)] = i === 0 ? order : 0;
    i32[mem.frame(f, FRAME.region)] = region;
    i32[mem.frame(f, FRAME.index)] = first < 0 ? -1 : first + i;
    i32[mem.frame(f, FRAME.releasedBy)] = 0;
    i32[mem.frame(f, FRAME.mapcount)] = i === 0 ? maps : 0;
    i32[mem.frame(f, FRAME.state)] = state;
  }
  // Last: the reference count makes the folio grabbable.
  mem.store(mem.frame(base, FRAME.refcount), refs);
}

/** try_grab_folio: the folio's refcount += refs unless it is zero. */
export function tryGrab(mem: Memory, head: number, refs: number): boolean {
  const i = mem.frame(head, FRAME.refcount);
  let ref = Atomics.load(mem.i32, i);
  for (;;) {
    if (ref === 0) return false;
    const seen = Atomics.compareExchange(mem.i32, i, ref, ref + refs);
    if (seen === ref) return true;
    ref = seen;
  }
}

/** Drop `refs` references on a folio; the last one frees every frame of it. */
export function putFolio(mem: Memory, head: number, refs: number): void {
  const left = Atomics.sub(mem.i32, mem.frame(head, FRAME.refcount), refs) - refs;
  if (left === 0) {
    const order = mem.load(mem.frame(head, FRAME.order));
    for (let i = 0; i < order; i++) mem.store(mem.frame(head + i, FRAME.state), FRAME_FREE);
  } else if (left < 0) throw new Error(`frame ${head}: refcount went negative (${left})`);
}

/**
 * A pte mapping of frame f goes away (ptep_clear, page_remove_rmap, put):
 * the frame is RELEASED (kept alive by any pin on its folio), `serial` names
 * the mutator operation that did it (ghost, for the oracle).
 */
export function releaseMapping(mem: Memory, f: number, serial: number): void {
  const head = headOf(mem, f);
  mem.store(mem.frame(f, FRAME.releasedBy), serial);
  mem.store(mem.frame(f, FRAME.state), FRAME_RELEASED);
  Atomics.sub(mem.i32, mem.frame(head, FRAME.mapcount), 1);
  putFolio(mem, head, 1);
}

/**
 * Harness bookkeeping, before the run only (not a kernel step): region r
 * gets its own PTE table of fresh small pages, each with a data word.
 */
export function setupRegion(mem: Memory, r: number, dataTag: number): void {
  const base = allocBlock(mem);
  if (base < 0) throw new Error("setup: the frame pool has no free block");
  for (let j = 0; j < mem.geo.ptes; j++) {
    makeFolio(mem, base + j, 1, FRAME_MAPPED, r, j, 1, 1);
    mem.store(mem.frameData(base + j), dataTag + j);
    mem.store(mem.pte(r, j), makePte(base + j));
  }
  mem.store(mem.region(r, REGION.gen), 1);
  mem.store(mem.pmd(r), makeTablePmd(r));
}

/**
 * A free run of `n` frames aligned to n, or -1: the folio of an mTHP of n
 * pages (alloc_charge_folio with an order below the pmd's). allocBlock's
 * contract: free frames have refcount 0, so nobody else writes them. Runs may
 * straddle two of allocBlock's blocks, which then stay unavailable to it
 * until the run is freed (allocBlock wants a whole free block).
 */
export function allocFrames(mem: Memory, n: number): number {
  const ptes = mem.geo.ptes;
  const blocks = mem.geo.frames / ptes;
  const runs = Math.floor(mem.geo.frames / n);
  const first = Math.floor((mem.load(CTL.allocCursor) * ptes) / n);
  for (let k = 0; k < runs; k++) {
    const b = (first + k) % runs;
    let free = true;
    for (let i = 0; i < n && free; i++) {
      free = mem.load(mem.frame(b * n + i, FRAME.state)) === FRAME_FREE;
    }
    if (!free) continue;
    mem.store(CTL.allocCursor, Math.floor(((b + 1) * n) / ptes) % blocks);
    return b * n;
  }
  return -1;
}
