// Every wait in the harness: spin briefly, then sleep on the CPU's doorbell
// with a timeout. Pending IPIs are taken while waiting (interrupts are on
// whenever a CPU waits). A wait that outlasts the stall bound names the CPU it
// was waiting for and raises a harness fault instead of hanging.

import type { Cpu } from "../kernel/cpu.js";
import { ipiTake } from "../kernel/irq.js";
import { stepName } from "../kernel/steps.js";
import type { Memory } from "../memory/layout.js";
import {
  CPU_A,
  CPU_B,
  CTL,
  FAULT_NONE,
  FAULT_STALL,
  STOP_ABORT,
  STOP_GRACEFUL,
} from "../memory/layout.js";
import { BoundClock } from "./bound-clock.js";

/** How long one Atomics.wait may block before re-checking everything (ms). */
const SLEEP_SLICE_MS = 5;

/** The fewest spins before a wait sleeps (Waiter.spinCap). */
const MIN_SPINS = 64;

export class Waiter {
  readonly cpu: Cpu;
  readonly mem: Memory;
  readonly stallMs: number;
  /** spins before the first sleep at most: long when every CPU has a core, short when oversubscribed */
  readonly spinLimit: number;
  /**
   * spins before the first sleep now (adaptive, MIN_SPINS..spinLimit): halved
   * by every wait that had to sleep, grown back by those that did not. On a
   * machine busy with other work the CPU waited for is often descheduled,
   * sometimes on the waiter's own core: spinning then only delays it, and a
   * sleep lets the scheduler run it (measured beside 2 busy loops, the time to
   * a first race had tails of seconds with 20,000 spins, of under a second
   * with 64).
   */
  private spinCap: number;
  /** IPI handler entries while waiting */
  ipisTaken = 0;
  /** what the stuck wait was for, once a stall was raised */
  stalled: string | null = null;

  constructor(cpu: Cpu, stallMs: number, spinLimit: number) {
    this.cpu = cpu;
    this.mem = cpu.mem;
    this.stallMs = stallMs;
    this.spinLimit = spinLimit;
    this.spinCap = spinLimit;
  }

  /** A fault: leave at once. (A graceful stop is checked by the drivers at round boundaries.) */
  stopRequested(): boolean {
    return this.mem.load(CTL.stop) === STOP_ABORT;
  }

  /** Tell the watchdog this CPU is alive (a waiting CPU is alive too: whoever it waits for is not). */
  beat(): void {
    Atomics.add(this.mem.i32, this.mem.cpuA(this.cpu.id, CPU_A.heartbeat), 1);
  }

  /** Take pending IPIs (interrupts are on while waiting). */
  serviceIpis(): void {
    if (ipiTake(this.cpu)) this.ipisTaken++;
  }

  /**
   * Wait until `ready()`; returns false if the run is stopping or this wait
   * stalled (then the fault is recorded, naming `peer()`).
   */
  until(
    ready: () => boolean,
    peer: () => number,
    what: string,
    boundMs = this.stallMs,
    faultKind = FAULT_STALL,
  ): boolean {
    const mem = this.mem;
    const cap = this.spinCap;
    for (let i = 0; i < cap; i++) {
      if (ready()) {
        if (cap < this.spinLimit) this.spinCap = Math.min(this.spinLimit, cap + (cap >> 2) + 16);
        return true;
      }
      this.serviceIpis();
      if ((i & 255) === 255) {
        this.beat();
        if (this.stopRequested()) return false;
      }
    }
    this.spinCap = Math.max(MIN_SPINS, cap >> 1);
    // Counted time, not wall time: a stopped-and-resumed process is not a stall.
    const clock = new BoundClock();
    const bell = mem.cpuB(this.cpu.id, CPU_B.doorbell);
    const sleeping = mem.cpuA(this.cpu.id, CPU_A.sleeping);
    for (;;) {
      const seen = Atomics.load(mem.i32, bell);
      Atomics.store(mem.i32, sleeping, 1);
      this.serviceIpis();
      if (ready()) {
        Atomics.store(mem.i32, sleeping, 0);
        return true;
      }
      if (this.stopRequested()) {
        Atomics.store(mem.i32, sleeping, 0);
        return false;
      }
      Atomics.wait(mem.i32, bell, seen, SLEEP_SLICE_MS);
      Atomics.store(mem.i32, sleeping, 0);
      this.beat();
      if (ready()) return true;
      if (clock.tick() > boundMs) {
        const p = peer();
        this.stalled = what;
        raiseFault(mem, faultKind, this.cpu.id, p, mem.load(mem.cpuA(p, CPU_A.lastStep)));
        return false;
      }
    }
  }

  /**
   * Idle like a real CPU with nothing to do: sleep on the doorbell with
   * interrupts on for up to `ms`; an IPI (or a stop) wakes us at once.
   */
  idle(ms: number): void {
    const mem = this.mem;
    const bell = mem.cpuB(this.cpu.id, CPU_B.doorbell);
    const sleeping = mem.cpuA(this.cpu.id, CPU_A.sleeping);
    const seen = Atomics.load(mem.i32, bell);
    Atomics.store(mem.i32, sleeping, 1);
    this.serviceIpis();
    Atomics.wait(mem.i32, bell, seen, ms);
    Atomics.store(mem.i32, sleeping, 0);
    this.serviceIpis();
    this.beat();
  }
}

/** Record the first fault and stop every CPU. */
export function raiseFault(
  mem: Memory,
  kind: number,
  cpu: number,
  peer: number,
  step: number,
): void {
  if (Atomics.compareExchange(mem.i32, CTL.faultKind, FAULT_NONE, kind) === FAULT_NONE) {
    mem.store(CTL.faultCpu, cpu);
    mem.store(CTL.faultPeer, peer);
    mem.store(CTL.faultStep, step);
  }
  requestStop(mem, STOP_ABORT);
}

/** Ask every CPU to stop (gracefully: at the end of the round in hand), and wake the sleeping ones. */
export function requestStop(mem: Memory, how: number = STOP_GRACEFUL): void {
  if (mem.load(CTL.stop) < how) mem.store(CTL.stop, how);
  for (let c = 0; c < mem.geo.cpus + (mem.geo.bystanders ?? 0); c++) {
    const bell = mem.cpuB(c, CPU_B.doorbell);
    Atomics.add(mem.i32, bell, 1);
    Atomics.notify(mem.i32, bell);
  }
}

export function describeStep(step: number): string {
  return step === 0 ? "none yet" : stepName(step);
}
