// A bystander CPU: it never walks this mm, it spends stretches with
// interrupts off on unrelated work (a spinlock held with IRQs off, a long
// softirq), and takes IPIs only with interrupts on. An IPI to every online
// CPU (smp_call_function) must wait for it; an IPI to mm_cpumask does not
// reach it; a grace period waits for it to leave an IRQ-off section that
// began before the period started.

import type { Cpu } from "./cpu.js";
import { irqOff, irqOn } from "./irq.js";
import { STEP } from "./steps.js";

/** Section k's steps: BO (interrupts off) at pc 2k, BI (back on) at pc 2k + 1. */
export function bystanderStep(cpu: Cpu, pc: number): number {
  if ((pc & 1) === 0) {
    irqOff(cpu);
    cpu.trace(STEP.BO, -1, -1, -1, pc >> 1);
    return STEP.BO;
  }
  irqOn(cpu);
  cpu.trace(STEP.BI, -1, -1, -1, pc >> 1);
  return STEP.BI;
}
