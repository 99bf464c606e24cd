// Interrupts off/on as a per-CPU word, and IPIs as request/ack epochs
// (MODEL.md section 5). A CPU takes a pending IPI only with interrupts on;
// the driver decides when (after G9, between operations, while idle).

import type { Memory } from "../memory/layout.js";
import { CPU_A, CPU_B } from "../memory/layout.js";
import type { Cpu } from "./cpu.js";
import { STEP } from "./steps.js";

/** local_irq_save: the word becomes odd. */
export function irqOff(cpu: Cpu): void {
  Atomics.add(cpu.mem.i32, cpu.mem.cpuA(cpu.id, CPU_A.irq), 1);
}

/** local_irq_restore: the word becomes even again. */
export function irqOn(cpu: Cpu): void {
  Atomics.add(cpu.mem.i32, cpu.mem.cpuA(cpu.id, CPU_A.irq), 1);
}

export function irqsOff(mem: Memory, c: number): boolean {
  return (Atomics.load(mem.i32, mem.cpuA(c, CPU_A.irq)) & 1) === 1;
}

export function ipiPending(mem: Memory, c: number): boolean {
  return (
    Atomics.load(mem.i32, mem.cpuB(c, CPU_B.ipiReq)) !==
    Atomics.load(mem.i32, mem.cpuA(c, CPU_A.ipiAck))
  );
}

/** Wake CPU c if it sleeps on its doorbell: the one word every wait of c blocks on. */
export function kick(mem: Memory, c: number): void {
  const bell = mem.cpuB(c, CPU_B.doorbell);
  Atomics.add(mem.i32, bell, 1);
  if (Atomics.load(mem.i32, mem.cpuA(c, CPU_A.sleeping)) !== 0) Atomics.notify(mem.i32, bell);
}

/** Send an IPI to `target`; returns the epoch its ack must reach. */
export function ipiSend(mem: Memory, from: number, target: number): number {
  Atomics.store(mem.i32, mem.cpuB(target, CPU_B.ipiSender), from);
  const epoch = Atomics.add(mem.i32, mem.cpuB(target, CPU_B.ipiReq), 1) + 1;
  kick(mem, target);
  return epoch;
}

export function ipiAcked(mem: Memory, target: number, epoch: number): boolean {
  return Atomics.load(mem.i32, mem.cpuA(target, CPU_A.ipiAck)) - epoch >= 0;
}

/** A broadcast in flight (smp_call_function_many(..., wait=1)): who was sent one, and the ack each must reach. */
export interface IpiWait {
  targets: Int32Array;
  epochs: Int32Array;
  nTargets: number;
}

/** The first target whose ack is not in yet, or -1 when every ack is in. */
export function firstUnacked(mem: Memory, w: IpiWait): number {
  for (let k = 0; k < w.nTargets; k++)
    if (!ipiAcked(mem, w.targets[k], w.epochs[k])) return w.targets[k];
  return -1;
}

export function allAcked(mem: Memory, w: IpiWait): boolean {
  return firstUnacked(mem, w) < 0;
}

/** Send an IPI to each target in w.targets[0 .. n) and record the epochs to wait for. */
export function ipiBroadcast(cpu: Cpu, w: IpiWait, n: number): void {
  cpu.ipiBroadcasts++;
  for (let k = 0; k < n; k++) w.epochs[k] = ipiSend(cpu.mem, cpu.id, w.targets[k]);
  w.nTargets = n;
}

/**
 * The rule for taking an IPI: only with interrupts on (the IRQ-off contract
 * every IPI-based protection relies on), unless a mutant breaks it.
 */
export function canTakeIpi(cpu: Cpu): boolean {
  return ipiPending(cpu.mem, cpu.id) && irqRuleAllows(cpu);
}

function irqRuleAllows(cpu: Cpu): boolean {
  return cpu.fix.ipiWhileIrqOff || !irqsOff(cpu.mem, cpu.id);
}

/**
 * Take a pending IPI if interrupts allow it: run the (empty) handler, publish
 * the ack, wake the sender. Returns true when a handler ran.
 */
export function ipiTake(cpu: Cpu): boolean {
  const mem = cpu.mem;
  const req = Atomics.load(mem.i32, mem.cpuB(cpu.id, CPU_B.ipiReq));
  const ackIdx = mem.cpuA(cpu.id, CPU_A.ipiAck);
  if (req === Atomics.load(mem.i32, ackIdx) || !irqRuleAllows(cpu)) return false;
  cpu.trace(STEP.IPI, -1, -1, -1, req);
  Atomics.store(mem.i32, ackIdx, req);
  Atomics.add(mem.i32, mem.cpuA(cpu.id, CPU_A.ipiTaken), 1);
  kick(mem, Atomics.load(mem.i32, mem.cpuB(cpu.id, CPU_B.ipiSender)));
  return true;
}

/**
 * The CPUs a broadcast from `self` reaches, written to targets[0 ..): 'gup'
 * is mm_cpumask (CPU 0 and the walkers, 1 .. cpus - 1: every CPU that runs
 * this mm), 'all' every online CPU (smp_call_function), bystanders included.
 * Never the sender. Returns how many.
 */
export function ipiTargetsOf(
  mem: Memory,
  self: number,
  set: "none" | "gup" | "all",
  targets: Int32Array,
): number {
  if (set === "none") return 0;
  const last = set === "all" ? mem.geo.cpus + (mem.geo.bystanders ?? 0) : mem.geo.cpus;
  let n = 0;
  for (let t = 0; t < last; t++) if (t !== self) targets[n++] = t;
  return n;
}
