// Step labels, in the kernel's own names (MODEL.md sections 2 and 3).
// A step is the unit a scheduler interleaves: the threaded drivers run them
// back to back, the explorer picks one CPU's next step at a time.

export const STEP = {
  // GUP-fast (mm/gup.c lockless_pages_from_mm, gup_pmd_range, gup_pte_range)
  G0: 1, // local_irq_save
  G1: 2, // pmd = READ_ONCE(*pmdp)
  G2: 3, // pte_offset_map(&pmd, addr): table from the snapshot
  G3: 4, // pte = ptep_get_lockless(ptep)
  G5: 5, // try_grab_folio: add-unless-zero
  G6: 6, // pmd re-check (fix 2)
  G7: 7, // pte re-check
  G8: 8, // pages[nr++] = page
  G9: 9, // local_irq_restore
  GU: 10, // unpin_user_page, after the caller is done with the page
  // collapse (mm/khugepaged.c collapse_huge_page)
  K0: 20, // hpage_collapse_scan_pmd: racy pre-scan
  K1: 21, // alloc_charge_hpage
  K2: 22, // mmap_write_lock
  K4: 24, // pmdp_collapse_flush: clear pmd, flush
  K5: 25, // IPI broadcast (fix 1 / tlb_remove_table_sync_one): send
  K5W: 26, // ...and wait for every ack
  K6: 27, // __collapse_huge_page_isolate: one page
  K7: 28, // abort: pmd_populate with the old table
  K8: 29, // __collapse_huge_page_copy: one page (copy, ptep_clear, free)
  K9: 30, // __SetPageUptodate + smp_wmb
  K10: 31, // set_pmd_at: install the huge pmd
  K11: 32, // mmap_write_unlock
  KR: 33, // reset: split the region back into fresh small pages
  // interrupts
  IPI: 40, // an IPI handler ran on this CPU (interrupts on)
} as const;

export type StepName = keyof typeof STEP;

const NAMES: string[] = [];
for (const [name, id] of Object.entries(STEP)) NAMES[id] = name;

export function stepName(id: number): string {
  return NAMES[id] ?? `step${id}`;
}

/** What each step does, for the interleaving drawing. */
export const STEP_TEXT: Record<StepName, string> = {
  G0: "local_irq_save",
  G1: "read pmd",
  G2: "pte_offset_map from the snapshot",
  G3: "read pte",
  G5: "pin the page",
  G6: "re-check pmd",
  G7: "re-check pte",
  G8: "page returned",
  G9: "local_irq_restore",
  GU: "unpin",
  K0: "scan: ptes present, not pinned",
  K1: "allocate huge page",
  K2: "mmap_write_lock",
  K4: "pmdp_collapse_flush: clear pmd, flush",
  K5: "IPI broadcast",
  K5W: "IPI: all acks in",
  K6: "isolate: page pinned?",
  K7: "abort: restore pmd",
  K8: "copy, ptep_clear, release page",
  K9: "smp_wmb",
  K10: "set_pmd_at: install huge pmd",
  K11: "mmap_write_unlock",
  KR: "reset to small pages",
  IPI: "IPI handler",
};

/** Returned by a step function when the CPU cannot take a step now (waiting for IPI acks). */
export const BLOCKED = -1;
/** Returned by a step function when the operation has finished. */
export const DONE = 0;
