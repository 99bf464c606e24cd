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

/**
 * Take a pending IPI if interrupts allow it: run the (empty) handler, publish
 * the ack, wake the sender. Returns true when a handler ran.
 */
export function ipiTake(cpu: Cpu): boolean {
  const mem = cpu.mem;
  const req = Atomics.load(mem.i32, mem.cpuB(cpu.id, CPU_B.ipiReq));
  const ackIdx = mem.cpuA(cpu.id, CPU_A.ipiAck);
  if (req === Atomics.load(mem.i32, ackIdx)) return false;
  if (irqsOff(mem, cpu.id) && !cpu.fix.ipiWhileIrqOff) return false;
  cpu.trace(STEP.IPI, -1, -1, -1, req);
  Atomics.store(mem.i32, ackIdx, req);
  Atomics.add(mem.i32, mem.cpuA(cpu.id, CPU_A.ipiTaken), 1);
  kick(mem, Atomics.load(mem.i32, mem.cpuB(cpu.id, CPU_B.ipiSender)));
  return true;
}
