// Test-only fault injection (--fault, hidden from --help): make one CPU
// misbehave at a chosen point so that tests can show nothing hangs.
//
//   throw@CPU[:AT]       throw an exception
//   hang-irqoff@CPU[:AT] disable interrupts and spin forever (never acks an IPI)
//   exit@CPU[:AT]        end the worker thread abruptly
//
// AT counts rounds (lockstep) or operations (freerun); default 1.

import type { Cpu } from "../kernel/cpu.js";
import { irqOff } from "../kernel/irq.js";

export const FAULT_KINDS = ["throw", "hang-irqoff", "exit"] as const;

export interface FaultSpec {
  kind: (typeof FAULT_KINDS)[number];
  cpu: number;
  at: number;
}

/** Parse a fault spec; returns an error message for a bad one. */
export function parseFault(spec: string): FaultSpec | string {
  const m = /^([a-z-]+)@(\d+)(?::(\d+))?$/.exec(spec);
  if (!m) return `--fault ${spec}: expected KIND@CPU[:AT], KIND one of ${FAULT_KINDS.join(", ")}`;
  const kind = m[1] as FaultSpec["kind"];
  if (!FAULT_KINDS.includes(kind))
    return `--fault ${spec}: unknown kind ${m[1]} (accepted: ${FAULT_KINDS.join(", ")})`;
  return { kind, cpu: Number(m[2]), at: m[3] === undefined ? 1 : Number(m[3]) };
}

const parsed = new Map<string, FaultSpec | string>();

export function injectFault(spec: string | null, cpu: Cpu, at: number): void {
  if (spec === null) return;
  let f = parsed.get(spec);
  if (f === undefined) {
    f = parseFault(spec);
    parsed.set(spec, f);
  }
  if (typeof f === "string" || f.cpu !== cpu.id || at < f.at) return;
  switch (f.kind) {
    case "throw":
      throw new Error(`injected fault: CPU ${cpu.id} throws at ${at}`);
    case "hang-irqoff":
      irqOff(cpu);
      for (;;) {
        // interrupts off, never coming back: only the watchdog can end this
      }
    case "exit":
      process.exit(1);
  }
}
