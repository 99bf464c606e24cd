// A delay point as data: it crosses into the workers, and scenarios declare their defaults with it.

/** A seeded random spin after a step: fires with probability `prob`, lasts uniform [0, maxNs]. */
export interface DelaySpec {
  /** a step name (G1, K8, ...) or "start" (the per-trial start offset) */
  point: string;
  maxNs: number;
  prob: number;
  /**
   * Forced instead of random: spin exactly maxNs after the nth time (1-based,
   * counted from the trial's start) this CPU runs `point`, every trial. The
   * explorer sets these to replay a counterexample on real threads.
   */
  nth?: number;
  /**
   * A host preemption instead of a spin: the host deschedules this vCPU here
   * for the spin's length, its steal-time word set (CPU_A.preempted) and
   * cleared after; it takes no IPIs meanwhile (--preempt).
   */
  preempt?: boolean;
}
