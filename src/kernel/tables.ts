// The page-table pool: pte_alloc and pte_free over a LIFO free list (the
// page allocator hands out the page freed last first: hot pages), and RCU
// grace periods read from each CPU's interrupt counter. Used by
// gup-vs-table-free, where tables are no longer one per region.
//
// The free list (`TABLE.next`, `CTL.tableFree`) is the allocator's state;
// every other pool word (state, owner, incarnation) is ghost state written
// here for the oracle and never read by a kernel step. Only CPU 0 (the
// mutator) and the main thread before the run allocate and free.

import type { Memory } from "../memory/layout.js";
import { allCpus, CPU_A, CTL, PTE_NONE, TABLE, TABLE_FREE, TABLE_USED } from "../memory/layout.js";

/** Harness bookkeeping before the run: tables [0, used) serve regions 0 .. used - 1, the rest are free. */
export function poolSetup(mem: Memory, used: number): void {
  if (mem.geo.tables === undefined) throw new Error("a page-table pool needs Geometry.tables");
  mem.store(CTL.tableFree, -1);
  for (let t = mem.tables - 1; t >= used; t--) {
    mem.store(mem.table(t, TABLE.incarnation), 0);
    pteFree(mem, t);
  }
  for (let t = 0; t < used; t++) {
    mem.store(mem.table(t, TABLE.next), -1);
    mem.store(mem.table(t, TABLE.incarnation), 1);
    mem.store(mem.table(t, TABLE.state), TABLE_USED);
    mem.store(mem.table(t, TABLE.owner), t);
  }
}

/** pte_alloc_one: the free list's head, its entries cleared, or -1 when the pool is empty. */
export function pteAlloc(mem: Memory, owner: number): number {
  const t = mem.load(CTL.tableFree);
  if (t < 0) return -1;
  mem.store(CTL.tableFree, mem.load(mem.table(t, TABLE.next)));
  for (let j = 0; j < mem.geo.ptes; j++) mem.store(mem.pte(t, j), PTE_NONE);
  // ghost: a new life of this table
  const inc = mem.table(t, TABLE.incarnation);
  mem.store(inc, mem.load(inc) + 1);
  mem.store(mem.table(t, TABLE.owner), owner);
  mem.store(mem.table(t, TABLE.state), TABLE_USED);
  return t;
}

/** pte_free: back on the free list at once. Whatever a walker still reads there is garbage from now on. */
export function pteFree(mem: Memory, t: number): void {
  mem.store(mem.table(t, TABLE.state), TABLE_FREE);
  mem.store(mem.table(t, TABLE.owner), -1);
  mem.store(mem.table(t, TABLE.next), mem.load(CTL.tableFree));
  mem.store(CTL.tableFree, t);
}

/** Ghost: mark a table's state (deposited, scribbled, pending) for the oracle. */
export function tableGhost(mem: Memory, t: number, state: number): void {
  mem.store(mem.table(t, TABLE.state), state);
}

// ---- RCU grace periods from the interrupt counters ----------------------------
// An IRQ-off section is an RCU-sched read side (GUP-fast's G0..G9). A grace
// period that starts once a table is unreachable is over when every other
// CPU was seen outside any IRQ-off section that began before it: its counter
// was even when the period started, or has changed since.

/** Start a grace period: each CPU's interrupt counter into snap[at + cpu]. */
export function gpStart(mem: Memory, self: number, snap: Int32Array, at: number): void {
  const n = allCpus(mem.geo);
  for (let c = 0; c < n; c++) snap[at + c] = c === self ? 0 : mem.load(mem.cpuA(c, CPU_A.irq));
}

/**
 * The first CPU the grace period started at snap[at ..] still waits for, or
 * -1 when it is over. `wait` false ends it at once (a mutant).
 */
export function gpWaitingFor(
  mem: Memory,
  self: number,
  snap: Int32Array,
  at: number,
  wait: boolean,
): number {
  if (!wait) return -1;
  const n = allCpus(mem.geo);
  for (let c = 0; c < n; c++) {
    if (c === self) continue;
    const s = snap[at + c];
    if ((s & 1) === 1 && mem.load(mem.cpuA(c, CPU_A.irq)) === s) return c;
  }
  return -1;
}
