// A traced step as the reports see it: read back from a trace ring or the
// first-race slot, one decoder for both, and one reader for a CPU's ring.

import type { Memory } from "../memory/layout.js";
import { CPU_A, TRACE, TRACE_WORDS } from "../memory/layout.js";
import { STEP_TEXT, type StepName, stepName } from "./steps.js";

/** CPU 0 runs the scenario's mutator; every other CPU is a walker (GUP-fast). */
export type Role = "mutator" | "walker";

export const roleOf = (cpu: number): Role => (cpu === 0 ? "mutator" : "walker");

export interface TraceStep {
  cpu: number;
  role: Role;
  step: string;
  clock: number;
  region: number;
  index: number;
  frame: number;
  value: number;
  text: string;
}

/** Decode one trace entry; `field(k)` loads its word k (TRACE offsets). */
export function decodeTraceStep(cpu: number, field: (k: number) => number): TraceStep {
  const step = stepName(field(TRACE.step));
  return {
    cpu,
    role: roleOf(cpu),
    step,
    clock: field(TRACE.clock),
    region: field(TRACE.region),
    index: field(TRACE.index),
    frame: field(TRACE.frame),
    value: field(TRACE.value),
    text: STEP_TEXT[step as StepName] ?? step,
  };
}

/** A trace entry as raw words (TRACE_WORDS of them), with its CPU. */
export interface RawEntry {
  cpu: number;
  fields: number[];
}

/**
 * The entries still in CPU `cpu`'s ring, oldest first (`head`: entries it
 * ever wrote). The CPU may go on writing while we read (freerun): entries
 * it overwrote meanwhile are dropped, not mixed in.
 */
export function readRing(mem: Memory, cpu: number, head?: number): RawEntry[] {
  const headIdx = mem.cpuA(cpu, CPU_A.traceHead);
  const n = head ?? mem.load(headIdx);
  const ring = mem.ringLength(cpu);
  const out: RawEntry[] = [];
  const first = Math.max(0, n - ring);
  for (let i = first; i < n; i++) {
    const fields: number[] = [];
    for (let f = 0; f < TRACE_WORDS; f++) fields.push(mem.load(mem.trace(cpu, i % ring, f)));
    out.push({ cpu, fields });
  }
  if (head !== undefined) return out;
  // Slots below (head now - ring) were written again while we read them.
  const lost = Math.max(0, mem.load(headIdx) - ring) - first;
  return lost > 0 ? out.slice(lost) : out;
}

export function decodeRaw(e: RawEntry): TraceStep {
  return decodeTraceStep(e.cpu, (k) => e.fields[k]);
}
