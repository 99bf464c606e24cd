// A traced step as the reports see it: read back from a trace ring or the
// first-race slot, one decoder for both.

import { TRACE } from "../memory/layout.js";
import { STEP_TEXT, type StepName, stepName } from "./steps.js";

export type Role = "collapse" | "gup-fast";

/** CPU 0 collapses; every other CPU runs GUP-fast. */
export const roleOf = (cpu: number): Role => (cpu === 0 ? "collapse" : "gup-fast");

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
