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
  // the huge-pmd leaf (mm/gup.c gup_fast_pmd_leaf): G1 saw a huge pmd
  G5H: 11, // try_grab_folio_fast on the pmd's folio, refs = pages
  G6H: 12, // pmd_val(orig) != pmd_val(*pmdp): drop the refs, back off
  // collapse (mm/khugepaged.c collapse_huge_page)
  K0: 20, // hpage_collapse_scan_pmd: racy pre-scan
  K1: 21, // alloc_charge_hpage
  K2: 22, // mmap_write_lock
  K4: 24, // pmdp_collapse_flush: clear pmd, flush
  K5: 25, // IPI broadcast (fix 1 / tlb_remove_table_sync_one): send
  K5W: 26, // ...and wait for every ack
  K6: 27, // __collapse_huge_page_isolate: one page
  K7: 28, // abort: pmd_populate with the old table
  K8: 29, // __collapse_huge_page_copy: copy one page (copy_mc_user_highpage; may fail)
  K9: 30, // __SetPageUptodate + smp_wmb
  K10: 31, // set_pmd_at: install the huge pmd
  K11: 32, // mmap_write_unlock
  K8F: 33, // __collapse_huge_page_copy_succeeded: ptep_clear, free one page
  // THP split (mm/huge_memory.c __split_huge_pmd_locked)
  KS0: 34, // pmdp_invalidate: the huge pmd is no longer present
  KS: 35, // withdraw the deposited table, fill it with the subpages, pmd_populate
  // page-table freeing (gup-vs-table-free; src/kernel/tables.ts)
  T0: 66, // mmap_write_lock (excludes faults and slow GUP, not GUP-fast)
  T1: 50, // pmdp_collapse_flush: clear pmd, flush (a flush IPI where the platform sends one)
  T1W: 51, // ...flush IPI: every ack in (native_flush_tlb_multi waits)
  T2: 52, // tlb_remove_table_sync_one: IPI broadcast
  T2W: 53, // ...and wait for every ack
  T3: 54, // synchronize_rcu: a grace period starts (each CPU's irq counter read)
  T3W: 55, // ...grace period over: every CPU passed a quiescent state
  T4: 56, // pte_free (at once) or pte_free_defer (after a grace period)
  T5: 57, // RCU callbacks due; pte_alloc for another mm: a free table reused, its ptes written
  T6: 58, // collapse: ptes cleared, table deposited (ppc radix: list words written), huge pmd set
  T7: 59, // zap_huge_pmd: clear the huge pmd
  T8: 60, // zap_deposited_table: withdraw the table (ppc radix: list words cleared)
  TP: 62, // the other mm unmaps; RCU callbacks due; page fault: pte_alloc, ptes written, pmd_populate
  BO: 64, // bystander: local_irq_disable, unrelated work
  BI: 65, // bystander: local_irq_enable
  // interrupts
  IPI: 40, // an IPI handler ran on this CPU (interrupts on)
  // mTHP collapse (mm/khugepaged.c collapse_huge_page with order < HPAGE_PMD_ORDER)
  K10S: 41, // set_ptes: map one page of the new mTHP folio in the detached table
  K10P: 42, // smp_wmb + pmd_populate: the SAME table back (the pmd value comes back)
  // host preemption of a vCPU (KVM steal time, arch/x86/kernel/kvm.c)
  HP: 70, // the host deschedules this vCPU: preempted word set
  HR: 71, // the vCPU runs again: preempted word cleared; TLB flushed if a PV flush marked it
  // GUP-fast's compound-head steps (try_grab_folio / try_get_compound_head, c24d37322548)
  GH: 72, // folio = page_folio(page): read the compound head (headRead)
  GR: 73, // page_folio(page) != folio after the grab: drop, back off (recheckHead)
  GG: 74, // folio_ref_try_add_rcu on the head GH read (G5 of the headRead walker)
  // THP split (mm/huge_memory.c split_huge_page_to_list, __split_huge_page)
  SP: 75, // __split_huge_pmd: the huge pmd becomes the deposited table of subpage ptes
  S0: 76, // folio_get + folio_lock: the splitter's own reference
  S1: 77, // unmap_folio: every pte -> migration entry (mapping refs dropped)
  S2: 78, // the unmap's TLB flush: IPI broadcast (or none)
  S2W: 79, // ...and wait for every ack
  S3: 80, // folio_ref_freeze(folio, 1): fails if anyone else holds a reference
  S4: 81, // __split_huge_page_tail: every tail's compound head rewritten to itself
  S5: 82, // page_ref_unfreeze: every former subpage a page of its own
  S6: 83, // remap_page: the same subpages back at the same ptes
  S7: 84, // unlock and put the splitter's reference on each page
  S8: 85, // MADV_DONTNEED of page 0 (zap_pte_range): pte cleared, the page gathered (its ref held)
  S9: 86, // the former head frame reused: an order-0 page of another allocation
  SF: 87, // follow-up: zap the region, refault a fresh THP (huge pmd)
  SA: 88, // freeze failed: remap the same subpages (still one folio), put the ref
  S8F: 89, // the zap's TLB flush (tlb_flush_mmu_tlbonly): IPI broadcast (or none)
  // hugetlb PMD-table unshare (gup-vs-hugetlb-unshare): the walker in mm/gup.c's
  // terms (gup_fast_pud_range -> gup_fast_pmd_range -> gup_fast_pmd_leaf)
  HG1: 90, // pud = READ_ONCE(*pudp)
  HG3: 91, // pmd = pmdp_get_lockless(pmd_offset_lockless(pudp, pud, addr)): an entry in T
  HG5: 92, // try_grab_folio_fast on the entry's hugetlb folio
  HG7: 93, // variant: pud_val(pud) != pud_val(*pudp): drop the refs, back off
  HG6: 94, // pmd_val(orig) != pmd_val(*pmdp) (the entry in T): drop the refs, back off
  // the unsharer (mm/hugetlb.c huge_pmd_unshare and its callers: fork, exit, munmap)
  HU0: 99, // i_mmap_lock_write / hugetlb_vma_lock_write: excludes faults and huge_pmd_share, not GUP-fast
  HU1: 100, // pud_clear + ptdesc_pmd_pts_dec
  HU2: 101, // flush the unsharer mm's TLB (broadcast TLBI, or an IPI to its mm_cpumask)
  HU2W: 102, // ...the flush IPI's acks
  HU3: 103, // tlb_remove_table_sync_one, per policy: send
  HU3W: 104, // ...and wait for every ack
  HU4: 105, // the remaining owner reuses T: one entry rewritten for another mapping
  HU5: 106, // follow-up: the file mapped in T again
  HU6: 107, // follow-up: huge_pmd_share: every PUD that left points at T again
  // THP split, continued (the zap of S8 frees its page only after its TLB flush)
  S8W: 110, // ...the zap's flush IPI: every ack in
  S8R: 111, // tlb_batch_pages_flush: the gathered page's reference put (freed if it was the last)
  // Free for new scenarios' steps: 41..127 (STEP_IDS). Ranges taken:
  // 41..49 mthp collapse, 50..69 page-table freeing, 70..89 split and host
  // preemption, 90..109 hugetlb unshare, 110..111 split (70..89 was full).
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
  G5H: "pin the huge folio",
  G6H: "re-check pmd (pmd leaf)",
  K0: "scan: ptes present, not pinned",
  K1: "allocate huge page",
  K2: "mmap_write_lock",
  K4: "pmdp_collapse_flush: clear pmd, flush",
  K5: "IPI broadcast",
  K5W: "IPI: all acks in",
  K6: "isolate: page pinned?",
  K7: "abort: restore pmd",
  K8: "copy page",
  K8F: "ptep_clear, release page",
  K9: "smp_wmb",
  K10: "set_pmd_at: install huge pmd",
  K11: "mmap_write_unlock",
  KS0: "pmdp_invalidate",
  KS: "split: same table back, subpages mapped",
  T0: "mmap_write_lock",
  T1: "pmdp_collapse_flush: clear pmd, flush",
  T1W: "flush IPI: all acks in",
  T2: "tlb_remove_table_sync_one: IPI broadcast",
  T2W: "sync IPI: all acks in",
  T3: "synchronize_rcu: grace period starts",
  T3W: "grace period over",
  T4: "pte_free",
  T5: "pte_alloc for another mm: table reused",
  T6: "collapse: ptes cleared, table deposited, huge pmd set",
  T7: "zap_huge_pmd: clear huge pmd",
  T8: "zap_deposited_table: withdraw table",
  TP: "page fault: pte_alloc, pmd_populate",
  BO: "bystander: local_irq_disable",
  BI: "bystander: local_irq_enable",
  IPI: "IPI handler",
  K10S: "set_ptes: map the mTHP folio",
  K10P: "pmd_populate: the same table back",
  HP: "host preempts this vCPU",
  HR: "vCPU runs again (flush if marked)",
  GH: "read compound head",
  GR: "re-check compound head",
  GG: "pin the head read",
  SP: "split huge pmd",
  S0: "split: folio_get + lock",
  S1: "unmap to migration entries",
  S2: "flush TLB (IPI)",
  S2W: "flush: all acks in",
  S3: "freeze refcount",
  S4: "rewrite tails' heads",
  S5: "unfreeze",
  S6: "remap the same subpages",
  S7: "unlock, put refs",
  S8: "zap page 0: clear pte, gather the page",
  S8F: "zap's TLB flush (IPI)",
  S8W: "zap flush: all acks in",
  S8R: "free the gathered page",
  S9: "former head reused",
  SF: "refault a fresh THP",
  SA: "freeze failed: remap, abort",
  HG1: "read pud",
  HG3: "read pmd entry in T",
  HG5: "try_grab_folio_fast",
  HG7: "re-check pud",
  HG6: "re-check pmd entry in T",
  HU0: "take the unshare's locks",
  HU1: "huge_pmd_unshare: pud_clear, share count - 1",
  HU2: "flush the unsharer's TLB",
  HU2W: "flush IPI: all acks in",
  HU3: "tlb_remove_table_sync_one",
  HU3W: "sync IPI: all acks in",
  HU4: "remaining owner reuses T",
  HU5: "the file mapped in T again",
  HU6: "huge_pmd_share: puds point at T again",
};

/** Step ids are below this (delay points and histograms are indexed by step id). */
export const STEP_IDS = 128;

/** Returned by a step function when the CPU cannot take a step now (waiting for IPI acks). */
export const BLOCKED = -1;
/** Returned by a step function when the operation has finished. */
export const DONE = 0;
