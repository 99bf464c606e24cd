// A fix is data: which steps a variant runs and how. The step functions read
// these knobs; nothing in the tree branches on a fix's name, and the oracle
// never looks at the fix at all. Each scenario declares its fix variants as
// knob settings over KNOB_DEFAULTS (src/scenarios/).

export type IpiTargets = "none" | "gup" | "all";

export interface Knobs {
  /** K5: who gets the IPI broadcast after pmdp_collapse_flush */
  ipi: IpiTargets;
  /** mutant: each broadcast skips one target, rotating, whatever it is doing (overstates KVM's PV flush) */
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
  /** K0 and K6 check only the first page of the region (a loop-bound bug) */
  checkFirstPageOnly: boolean;
  /** fault injection: K8's copy_mc of the last page fails, collapse puts the same table back */
  copyFails: boolean;
  // gup-vs-mthp-collapse (src/kernel/mthp-collapse.ts)
  /** K10P (pmd_populate of the same table) before K10S (set_ptes of the new folio) */
  mthpPopulateBeforeSetPtes: boolean;
  /** K10P right after the copy, before K8F clears and frees the range's old ptes */
  mthpPopulateBeforeClear: boolean;
  // ---- gup-vs-table-free (page-table lifetime) ----
  /** the TLB flush of pmdp_collapse_flush: its IPI's targets, waited for (x86: mm_cpumask); none: a hardware broadcast (arm64 TLBI) */
  flushIpi: IpiTargets;
  /** a detached page table is freed at once (pte_free), after a grace period (pte_free_defer), or once the mutator waited a grace period (synchronize_rcu) */
  tableFree: TableFree;
  /** a grace period waits for every other CPU's quiescent state (false: it ends at once) */
  gpWait: boolean;
  /** the THP deposit writes non-PTE words into the deposited table (ppc radix's list_head) */
  depositScribble: boolean;
  // gup-vs-hugetlb-unshare (CVE-2025-38085, 1013af4f585f)
  /** after huge_pmd_unshare, tlb_remove_table_sync_one's IPI goes to: nobody, every other CPU, or the unsharer mm's mm_cpumask */
  unshareSync: UnshareSync;
  /** ...only when the unshare left the table exclusively owned (share count 0), once per mmu_gather */
  unshareSyncLastOnly: boolean;
  /** ...to the union of the mm_cpumasks of every mm that unshared the table since its last sync (with unshareSync mm) */
  unshareSyncUnion: boolean;
  /** the unsharer's TLB flush is an IPI to its mm_cpumask that waits (x86) instead of a broadcast TLBI (arm64) */
  unshareFlushIpi: boolean;
  /** GUP-fast re-checks the PUD after the grab, before the pmd entry re-check */
  recheckPud: boolean;
  /** ...after the pmd entry re-check instead */
  recheckPudLast: boolean;
  // ---- gup-vs-split and host preemption (KVM PV flush) ----
  /** kvm_flush_tlb_multi: a flush broadcast skips exactly the targets the host has preempted and marks them to flush when they run again */
  ipiPvFlush: boolean;
  /** the pin reads the compound head as a step of its own (GH), then grabs it (GG), as try_grab_folio does */
  headRead: boolean;
  /** GR: after the grab, re-check that the page's compound head is still the folio grabbed (c24d37322548) */
  recheckHead: boolean;
  // ---- gup-vs-split mutants (weakened head re-checks) ----
  /** GR runs before GG (the grab) instead of after it: a second read of the head with no reference held */
  recheckHeadBeforeGrab: boolean;
  /** GR reads the grabbed head's own compound head (compound_head(head) != head), which a split leaves alone, not the page's */
  recheckHeadOfFolio: boolean;
}

export type TableFree = "now" | "defer" | "sync-rcu";
export type UnshareSync = "none" | "all" | "mm";

export interface Fix extends Knobs {
  /** the variant's name, or a weakened one ("base~knob=value,...") */
  name: string;
  /** one line for --help and reports */
  summary: string;
}

export const KNOB_DEFAULTS: Knobs = {
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
  checkFirstPageOnly: false,
  copyFails: false,
  // gup-vs-mthp-collapse
  mthpPopulateBeforeSetPtes: false,
  mthpPopulateBeforeClear: false,
  // gup-vs-table-free
  flushIpi: "none",
  tableFree: "now",
  gpWait: true,
  depositScribble: false,
  // gup-vs-hugetlb-unshare
  unshareSync: "none",
  unshareSyncLastOnly: false,
  unshareSyncUnion: false,
  unshareFlushIpi: false,
  recheckPud: false,
  recheckPudLast: false,
  // gup-vs-split and host preemption
  ipiPvFlush: false,
  headRead: false,
  recheckHead: false,
  // gup-vs-split mutants
  recheckHeadBeforeGrab: false,
  recheckHeadOfFolio: false,
};

/** The values an enum knob accepts (every other knob is a boolean). */
const ENUM_KNOBS: Partial<Record<keyof Knobs, readonly string[]>> = {
  ipi: ["none", "gup", "all"],
  flushIpi: ["none", "gup", "all"],
  tableFree: ["now", "defer", "sync-rcu"],
  unshareSync: ["none", "all", "mm"],
};

/** A fix variant as a scenario declares it. */
export interface FixDecl {
  name: string;
  summary: string;
  /** what the oracle must see under this variant: a race, or none */
  expect: "race" | "clean";
  /** CPUs the variant needs to show its verdict (1 mutator + walkers) */
  minCpus: number;
  knobs: Partial<Knobs>;
}

/**
 * A declared fix by name, or a weakened variant written as
 * "base~knob=value,...", e.g. "recheck~recheckPmdLive=true": the mutants cross
 * into the worker threads as such a name, so the threaded drivers need no
 * knowledge of them. Returns a message saying what is wrong instead of a Fix.
 */
export function parseFix(decls: readonly FixDecl[], name: string): Fix | string {
  const [baseName, knobs] = name.split("~", 2);
  const decl = decls.find((f) => f.name === baseName);
  if (decl === undefined)
    return `unknown fix '${baseName}' (accepted: ${decls.map((d) => d.name).join(", ")}, or BASE~KNOB=VALUE)`;
  const fix: Fix = { ...KNOB_DEFAULTS, ...decl.knobs, name, summary: decl.summary };
  if (knobs === undefined) return fix;
  for (const pair of knobs.split(",")) {
    const [knob, value] = pair.split("=", 2);
    if (!(knob in KNOB_DEFAULTS)) {
      return `fix '${name}': unknown knob '${knob}' (accepted: ${Object.keys(KNOB_DEFAULTS).join(", ")})`;
    }
    const key = knob as keyof Knobs;
    const values = ENUM_KNOBS[key] ?? ["true", "false"];
    if (value === undefined || !values.includes(value))
      return `fix '${name}': knob ${knob} takes ${values.join(" or ")}`;
    (fix as unknown as Record<string, unknown>)[key] = key in ENUM_KNOBS ? value : value === "true";
  }
  return fix;
}
