// One emulated CPU: its id, the fix it runs under, and its trace ring.
// The threaded drivers make one per worker; the explorer makes them all in one thread.

import type { Memory } from "../memory/layout.js";
import { CPU_A, CTL, TRACE } from "../memory/layout.js";
import type { Fix } from "./fixes.js";

export class Cpu {
  readonly mem: Memory;
  readonly id: number;
  readonly fix: Fix;
  /** record every step in the trace ring (with a global clock stamp) */
  tracing: boolean;
  traceHead = 0;
  /** IPI broadcasts this CPU has sent (the drivers count and time them) */
  ipiBroadcasts = 0;

  private readonly i32: Int32Array;
  private readonly lastStepIdx: number;
  private readonly ring: number;

  constructor(mem: Memory, id: number, fix: Fix, tracing = true) {
    this.mem = mem;
    this.id = id;
    this.fix = fix;
    this.tracing = tracing;
    this.i32 = mem.i32;
    this.lastStepIdx = mem.cpuA(id, CPU_A.lastStep);
    this.ring = mem.ringLength(id);
  }

  /** Stamp a step with the global clock and put it in this CPU's ring; returns the clock (-1 untraced). */
  trace(step: number, region: number, index: number, frame: number, value: number): number {
    return this.traceRead(this.stamp(), step, region, index, frame, value);
  }

  /**
   * A clock stamp for a read step, taken before its load (-1 untraced). A
   * read stamped before its load and a write stamped after its store draw in
   * memory order: a read that saw the old value draws before the write that
   * replaced it (the race's conditions G1 < K4, K6 < G5, G7 < K8F hold in the
   * drawing whenever they held in memory).
   */
  stamp(): number {
    return this.tracing ? Atomics.add(this.i32, CTL.clock, 1) : -1;
  }

  /**
   * trace() for a read step, with the stamp taken before its load. Kept small
   * so that it inlines into the step functions; the ring is out of line.
   */
  traceRead(
    clock: number,
    step: number,
    region: number,
    index: number,
    frame: number,
    value: number,
  ): number {
    // A plain store, not Atomics.store: lastStep is a diagnostic read only once
    // a CPU has stalled or crashed, and a seq-cst store (xchg on x86) on every
    // step was a fifth of an untraced walk's cost (docs/bench.md, the floor).
    this.i32[this.lastStepIdx] = step;
    return clock >= 0 ? this.record(clock, step, region, index, frame, value) : -1;
  }

  private record(
    clock: number,
    step: number,
    region: number,
    index: number,
    frame: number,
    value: number,
  ): number {
    const mem = this.mem;
    const i32 = this.i32;
    const slot = this.traceHead % this.ring;
    Atomics.store(i32, mem.trace(this.id, slot, TRACE.clock), clock);
    Atomics.store(i32, mem.trace(this.id, slot, TRACE.step), step);
    Atomics.store(i32, mem.trace(this.id, slot, TRACE.region), region);
    Atomics.store(i32, mem.trace(this.id, slot, TRACE.index), index);
    Atomics.store(i32, mem.trace(this.id, slot, TRACE.frame), frame);
    Atomics.store(i32, mem.trace(this.id, slot, TRACE.value), value);
    this.traceHead++;
    Atomics.store(i32, mem.cpuA(this.id, CPU_A.traceHead), this.traceHead);
    return clock;
  }
}
