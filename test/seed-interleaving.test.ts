// The interleaving of the seed thread (MODEL.md section 1), driven by hand,
// one step at a time, through the same step functions the workers run.

import { describe, expect, it } from "vitest";
import { COLLAPSE } from "../src/kernel/collapse.js";
import { Cpu } from "../src/kernel/cpu.js";
import { WALK } from "../src/kernel/gup.js";
import { hostPreempt, hostResume, ipiTake, irqsOff } from "../src/kernel/irq.js";
import { BLOCKED, STEP } from "../src/kernel/steps.js";
import {
  CPU_A,
  FRAME,
  FRAME_RELEASED,
  PMD_HUGE,
  PMD_TABLE,
  pmdKind,
  VCPU_FLUSH_TLB,
  VCPU_PREEMPTED,
} from "../src/memory/layout.js";
import { gupVsCollapse } from "../src/scenarios/gup-vs-collapse.js";
import { lab } from "./lab.js";

describe("the seed interleaving", () => {
  it("fix none: GUP-fast returns a page collapse released, and the pin sees no writes", () => {
    const l = lab("none");
    l.G("G0");
    l.G("G1"); // sees the valid pmd
    l.G("G2");
    l.G("G3");
    l.K("K0");
    l.K("K1");
    l.K("K2");
    l.K("K4"); // clear pmd and flush: nobody waits for the IRQ-off walker
    l.K("K6"); // page pinned? not yet
    l.G("G5"); // pin the page
    l.G("G7"); // pte unchanged
    l.G("G8");
    l.K("K8"); // copy the page
    l.K("K8F"); // ptep_clear, release: the pin keeps the page alive, unmapped
    l.K("K9");
    l.K("K10"); // install the huge pmd
    l.K("K11");
    l.G("G9");
    expect(l.walk.result).toBe(WALK.PINNED);
    expect(l.collapse.result).toBe(COLLAPSE.COMMITTED);
    const f = l.walk.frames[0];
    expect(l.mem.load(l.mem.frame(f, FRAME.state))).toBe(FRAME_RELEASED);
    expect(pmdKind(l.mem.load(l.mem.pmd(0)))).toBe(PMD_HUGE);
    const v = gupVsCollapse.walker.grade(l.mem, l.walk, 1);
    expect(gupVsCollapse.outcomes[v.outcome].key).toBe("stale-pin");
    expect(v.confirmed).toBe(true);
    expect(v.frame).toBe(f);
    // The split puts the same table back with the same pmd value: still a stale pin.
    const pmdBefore = l.collapse.oldPmd;
    l.op(1);
    l.K("KS0");
    l.K("KS");
    expect(l.mem.load(l.mem.pmd(0))).toBe(pmdBefore);
    expect(pmdKind(pmdBefore)).toBe(PMD_TABLE);
    expect(l.grade()).toBe("stale-pin");
  });

  it("the ABA: G6 alone passes when the split puts the same table back; G7 still backs off", () => {
    for (const [fix, want] of [
      ["recheck~recheckPte=false", "stale-pin"],
      ["recheck", "backoff-pte"],
    ] as const) {
      const l = lab(fix);
      for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
      for (const s of ["K0", "K1", "K2", "K4", "K6", "K8"]) l.K(s);
      l.G("G5"); // pinned after K6 checked the page
      for (const s of ["K8F", "K9", "K10", "K11"]) l.K(s);
      l.op(1);
      l.K("KS0");
      l.K("KS"); // the same table, the same pmd value as at G1
      l.G("G6"); // passes: pmd_val compares equal
      if (want === "backoff-pte") l.G("G7");
      else l.G("G8");
      l.G("G9");
      expect(l.grade(), fix).toBe(want);
    }
  });

  it("fix recheck: G6 sees the cleared pmd after the pin and backs off", () => {
    const l = lab("recheck");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K6"]) l.K(s);
    l.G("G5");
    const f = l.walk.frame;
    const pinned = l.mem.load(l.mem.frame(f, FRAME.refcount));
    l.G("G6");
    expect(l.walk.result).toBe(WALK.BACKOFF_PMD);
    // the reference taken at G5 was dropped again
    expect(l.mem.load(l.mem.frame(f, FRAME.refcount))).toBe(pinned - l.walk.bias);
    l.G("G9");
    for (const s of ["K8", "K8F", "K9", "K10", "K11"]) l.K(s);
    expect(l.walk.nr).toBe(0);
    expect(l.grade()).toBe("backoff-pmd");
  });

  it("fix ipi: collapse cannot pass K5 while the walker has interrupts off; K6 then sees the pin", () => {
    const l = lab("ipi");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K5"]) l.K(s);
    // The walker is between G0 and G9: it cannot take the IPI, collapse is stuck.
    expect(irqsOff(l.mem, 1)).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(ipiTake(l.g)).toBe(false);
      expect(l.K("K5W")).toBe(BLOCKED);
    }
    l.G("G5");
    l.G("G7");
    l.G("G8");
    expect(l.K("K5W")).toBe(BLOCKED);
    l.G("G9");
    expect(ipiTake(l.g)).toBe(true); // interrupts on: the handler runs, the ack goes out
    expect(l.K("K5W")).toBe(STEP.K5W);
    l.K("K6"); // sees the pin: abort
    l.K("K7"); // the pmd gets its old value back
    expect(l.collapse.result).toBe(COLLAPSE.ABORTED_ISOLATE);
    expect(l.walk.result).toBe(WALK.PINNED);
    expect(l.grade()).toBe("pinned");
  });

  it("the rotating-skip mutant (3 CPUs): the skipped CPU is never waited for, and the race returns", () => {
    const l = lab("ipi~ipiSkipOne=true", 1, 3);
    // First broadcast skips target 1 (the walker): rotating skip starts at the first target.
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K5"]) l.K(s);
    // CPU 2 (idle, interrupts on) acks; CPU 1 was skipped.
    const idle = new Cpu(l.mem, 2, l.g.fix);
    expect(ipiTake(idle)).toBe(true);
    expect(l.K("K5W")).toBe(STEP.K5W);
    l.K("K6");
    for (const s of ["G5", "G7", "G8"]) l.G(s);
    for (const s of ["K8", "K8F", "K9", "K10", "K11"]) l.K(s);
    l.G("G9");
    expect(l.grade()).toBe("stale-pin");
  });

  it("kvm-pv-flush: a running walker gets the flush IPI, so K5W waits for it", () => {
    const l = lab("kvm-pv-flush");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    for (const s of ["K0", "K1", "K2", "K4", "K5"]) l.K(s);
    expect(l.collapse.nTargets).toBe(1);
    expect(l.K("K5W")).toBe(BLOCKED);
  });

  it("kvm-pv-flush: a walker the host preempted is skipped and marked, flushes on its return, and races", () => {
    const l = lab("kvm-pv-flush");
    for (const s of ["G0", "G1", "G2", "G3"]) l.G(s);
    hostPreempt(l.g); // interrupts are off: the host does not care
    expect(irqsOff(l.mem, 1)).toBe(true);
    for (const s of ["K0", "K1", "K2", "K4", "K5"]) l.K(s);
    expect(l.collapse.nTargets).toBe(0); // skipped: no IPI, nothing to wait for
    expect(l.mem.load(l.mem.cpuA(1, CPU_A.preempted))).toBe(VCPU_PREEMPTED | VCPU_FLUSH_TLB);
    l.K("K5W");
    l.K("K6"); // no pin yet
    expect(hostResume(l.g)).toBe(true); // the flush it missed, on entry
    expect(l.mem.load(l.mem.cpuA(1, CPU_A.preempted))).toBe(0);
    for (const s of ["G5", "G7", "G8"]) l.G(s);
    for (const s of ["K8", "K8F", "K9", "K10", "K11"]) l.K(s);
    l.G("G9");
    expect(l.grade()).toBe("stale-pin");
  });
});
