// A fix is data: which steps a variant runs and how. The step functions read
// these fields; nothing else in the tree branches on a fix's name, and the
// oracle never looks at the fix at all.

export type IpiTargets = "none" | "gup" | "all";

export interface Fix {
  name: string;
  /** one line for --help and reports */
  summary: string;
  /** K5: who gets the IPI broadcast after pmdp_collapse_flush */
  ipi: IpiTargets;
  /** each broadcast skips one target, rotating (KVM's PV flush skipping a preempted vCPU) */
  ipiSkipOne: boolean;
  /** K5W: the sender waits for every ack (smp_call_function_many(..., wait=1)) */
  ipiWait: boolean;
  /** the IPI is sent before K4 instead of after it */
  ipiBeforeClear: boolean;
  /** targets take IPIs even with interrupts off (breaks the IRQ-off contract) */
  ipiWhileIrqOff: boolean;
  /** G6: compare the pmd with the snapshot after the pin, back off if it changed */
  recheckPmd: boolean;
  /** G6 compares the live pmd with a second live read taken just before the pin, not the G1 snapshot */
  recheckPmdLive: boolean;
  /** G6 runs before G5 (the pin) instead of after it */
  recheckBeforePin: boolean;
  /** G7: re-check the pte after the pin */
  recheckPte: boolean;
  /** K6 (isolate) runs before K4 (clear pmd) */
  isolateBeforeClear: boolean;
}

const base: Omit<Fix, "name" | "summary"> = {
  ipi: "none",
  ipiSkipOne: false,
  ipiWait: true,
  ipiBeforeClear: false,
  ipiWhileIrqOff: false,
  recheckPmd: false,
  recheckPmdLive: false,
  recheckBeforePin: false,
  recheckPte: true,
  isolateBeforeClear: false,
};

export const FIXES: readonly Fix[] = [
  { ...base, name: "none", summary: "no IPI, no G6: arm64 before the fix" },
  {
    ...base,
    name: "ipi",
    summary: "fix 1: IPI to the GUP CPUs at K5, wait for every ack (ppc hash, x86 native)",
    ipi: "gup",
  },
  {
    ...base,
    name: "recheck",
    summary: "fix 2: G6 re-checks the pmd after the pin (70cbc3cc78a9)",
    recheckPmd: true,
  },
  {
    ...base,
    name: "upstream",
    summary: "mainline today: G6, plus an IPI to all CPUs after K4 (2ba99c5e0881)",
    ipi: "all",
    recheckPmd: true,
  },
  {
    ...base,
    name: "ipi-skip",
    summary: "fix 1, but each broadcast skips one target (KVM PV flush): the race returns",
    ipi: "gup",
    ipiSkipOne: true,
  },
];

export const FIX_NAMES = FIXES.map((f) => f.name);

/**
 * A fix by name, or a weakened variant written as "base~knob=value,...", e.g.
 * "recheck~recheckPmdLive=true": the mutants cross into the worker threads as
 * such a name, so the threaded drivers need no knowledge of them.
 */
export function findFix(name: string): Fix | undefined {
  const exact = FIXES.find((f) => f.name === name);
  if (exact !== undefined || !name.includes("~")) return exact;
  const [baseName, knobs] = name.split("~", 2);
  const base = FIXES.find((f) => f.name === baseName);
  if (base === undefined) return undefined;
  const fix: Fix = { ...base, name };
  for (const pair of knobs.split(",")) {
    const [knob, value] = pair.split("=", 2);
    if (!(knob in base) || knob === "name" || knob === "summary") return undefined;
    const key = knob as keyof Fix;
    if (typeof base[key] === "boolean") {
      if (value !== "true" && value !== "false") return undefined;
      (fix as unknown as Record<string, unknown>)[key] = value === "true";
    } else if (key === "ipi") {
      if (value !== "none" && value !== "gup" && value !== "all") return undefined;
      fix.ipi = value;
    } else return undefined;
  }
  return fix;
}

/** Fixes that must close the race. */
export const CLEAN_FIXES = ["recheck", "ipi", "upstream"] as const;
/** Fixes under which the race must be found. */
export const RACY_FIXES = ["none", "ipi-skip"] as const;
