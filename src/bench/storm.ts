// gupstress bench --storm: hugetlb unshare storms (gup-vs-hugetlb-unshare).
// CPU 0 runs fork/exit-like storms: an "exit" of one mm unshares its PUD from
// every world's shared PMD table T in one mmu_gather (huge_pmd_unshare per
// table, then tlb_remove_table_sync_one as the policy says: per table, or
// once per gather when a table became exclusively owned), and a "fork" shares
// them again. The other CPUs run GUP-fast walks in their own mm and take the
// IPIs; bystander CPUs (ids after them) walk no mm and spend stretches with
// interrupts off, as the suite's bystanders do. Per policy, CPU count, share
// count and bystander count: the cost of one unshare (exit time / tables), the
// exit-fork loop's slowdown and the walkers' calls per second against policy
// none.

import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { Piscina } from "piscina";
import { bystanderStep } from "../kernel/bystander.js";
import { Cpu } from "../kernel/cpu.js";
import {
  HWALK,
  hugePmdShare,
  hugePmdUnshare,
  hugeUnpinAll,
  hugeWalkStep,
  mmOfCpu,
  newHugeWalk,
  sendTo,
  setupWorld,
  startHugeWalk,
  syncMask,
} from "../kernel/hugetlb.js";
import { allAcked, firstUnacked, kick } from "../kernel/irq.js";
import { DONE } from "../kernel/steps.js";
import { allCpus, CPU_A, CTL, type Geometry, Memory } from "../memory/layout.js";
import { BYSTANDER_OFF_NS } from "../run/config.js";
import { distFile } from "../run/stress.js";
import { Waiter } from "../run/wait.js";
import { resolveFix, scenarioByName } from "../scenarios/index.js";
import {
  type Interval,
  medianEstimate,
  pairedRatioMedian,
  pooledQuantile,
} from "../stats/stats.js";

const SCENARIO = "gup-vs-hugetlb-unshare";
const MAX_SAMPLES = 20_000;

export interface StormTask {
  sab: SharedArrayBuffer;
  geo: Geometry;
  cpu: number;
  fix: string;
  mms: number;
  spinLimit: number;
}

export interface StormReport {
  cpu: number;
  /** CPU 0: each exit's duration (ns) */
  exitNs: number[];
  exits: number;
  /** walkers: GUP-fast calls, and those that found their PUD cleared (fallback) */
  calls: number;
  fallbacks: number;
  ms: number;
  /** walkers: the mm it walks in */
  mm: number;
  /** CPU 0: every CPU's IPI handler entries during its counted exits */
  ipis: number;
}

/** One CPU of a storm (runs in a worker: workers/storm.ts). */
export function stormCpu(t: StormTask): StormReport {
  const mem = new Memory(t.geo, t.sab);
  const cpu = new Cpu(mem, t.cpu, resolveFix(scenarioByName(SCENARIO), t.fix), false);
  const waiter = new Waiter(cpu, 5000, t.spinLimit);
  const report: StormReport = {
    cpu: t.cpu,
    exitNs: [],
    exits: 0,
    calls: 0,
    fallbacks: 0,
    ms: 0,
    mm: t.cpu === 0 ? -1 : mmOfCpu(t.cpu, t.mms),
    ipis: 0,
  };
  const every = allCpus(t.geo);
  mem.store(mem.cpuA(t.cpu, CPU_A.online), 1);
  for (let c = 0; c < every; c++) kick(mem, c);
  const online = () => {
    for (let c = 0; c < every; c++) if (mem.load(mem.cpuA(c, CPU_A.online)) === 0) return c;
    return -1;
  };
  if (
    !waiter.until(
      () => online() < 0,
      () => Math.max(0, online()),
      "the other CPUs",
    )
  )
    return report;
  // What a CPU did before CTL.measuring is warm-up (a thread of the pool may
  // have run another role or policy last; its JIT catches up meanwhile).
  let t0 = 0;
  const counting = (): boolean => {
    if (t0 !== 0) return true;
    if (mem.load(CTL.measuring) === 0) return false;
    t0 = performance.now();
    return true;
  };
  // Every CPU's IPI handler entries, summed (CPU 0 reads them around its counted exits).
  const ipisTaken = (): number => {
    let n = 0;
    for (let c = 0; c < every; c++) n += mem.load(mem.cpuA(c, CPU_A.ipiTaken));
    return n;
  };
  const worlds = t.geo.regions;
  if (t.cpu === 0) {
    const op = {
      targets: new Int32Array(every),
      epochs: new Int32Array(every),
      nTargets: 0,
      waited: false,
    };
    const sync = (world: number, mm: number): boolean => {
      const mask = syncMask(mem, cpu.fix, world, mm);
      if (mask === 0) return true;
      sendTo(cpu, op, mask);
      return waiter.until(
        () => allAcked(mem, op),
        () => Math.max(0, firstUnacked(mem, op)),
        "IPI acks",
      );
    };
    // mm 0 is the long-lived parent; mms 1.. are the children that exit and fork.
    // Exits that start once measuring is on are counted, with the IPIs they
    // cause: a sync waits for every ack, so an exit's handler entries are all
    // in before it ends.
    let ipisFrom = -1;
    for (let i = 0; mem.load(CTL.stop) === 0; i++) {
      const mm = 1 + (i % (t.mms - 1));
      const count = counting();
      if (count && ipisFrom < 0) ipisFrom = ipisTaken();
      const s = performance.now();
      // exit: one mmu_gather over every PUD range of the mm
      let fully = false;
      for (let w = 0; w < worlds; w++) {
        if (hugePmdUnshare(mem, cpu.fix, w, mm) === 0) fully = true;
        if (!cpu.fix.unshareSyncLastOnly && !sync(w, mm)) break;
      }
      if (cpu.fix.unshareSyncLastOnly && fully) sync(0, mm);
      if (count) {
        if (report.exitNs.length < MAX_SAMPLES) report.exitNs.push((performance.now() - s) * 1e6);
        report.exits++;
      }
      // fork: share every table again
      for (let w = 0; w < worlds; w++) hugePmdShare(mem, w, mm);
    }
    report.ipis = ipisFrom < 0 ? 0 : ipisTaken() - ipisFrom;
    mem.store(CTL.closed, 1);
    for (let c = 1; c < every; c++) kick(mem, c);
  } else if (t.cpu >= t.geo.cpus) {
    // A bystander: interrupts off for a stretch of unrelated work, as long
    // again with them on, taking IPIs; until CPU 0 has finished (it may be
    // waiting for our ack).
    const stretch = BYSTANDER_OFF_NS / 1e6;
    while (mem.load(CTL.closed) === 0) {
      bystanderStep(cpu, 0);
      const off = performance.now() + stretch;
      while (performance.now() < off) {}
      bystanderStep(cpu, 1);
      const on = performance.now() + stretch;
      do waiter.serviceIpis();
      while (performance.now() < on);
    }
  } else {
    const w = newHugeWalk(t.geo.ptes, t.mms);
    let seed = t.cpu * 7919;
    while (mem.load(CTL.stop) === 0) {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      startHugeWalk(w, (seed >>> 16) % worlds, 0, t.geo.ptes);
      while (w.pc !== DONE) hugeWalkStep(cpu, w);
      const fellBack = w.result === HWALK.FALLBACK_PUD;
      hugeUnpinAll(cpu, w);
      waiter.serviceIpis();
      if (counting()) {
        if (fellBack) report.fallbacks++;
        report.calls++;
      }
    }
    // Keep answering IPIs until the unsharer has finished its last exit.
    waiter.until(
      () => mem.load(CTL.closed) !== 0,
      () => 0,
      "CPU 0 to finish",
    );
  }
  counting();
  report.ms = t0 === 0 ? 0 : performance.now() - t0;
  return report;
}

export interface StormPlan {
  fixes: string[];
  cpus: number[];
  shares: number[];
  /** bystander counts each (CPU count, share count) runs with (absent: 0 only) */
  bystanders?: number[];
  worlds: number;
  ptes: number;
  runMs: number;
  /** each run's warm-up before it counts (ms; absent in older files: none) */
  warmMs?: number;
  rounds: number;
}

/**
 * Many short interleaved rounds, as the suite's: 20 of 100 ms in the full
 * storm, --quick 6 of 40 ms (the median's order-statistic interval needs 6),
 * each after a warm-up that is not counted: the pool's threads take whatever
 * role and policy comes next, and their JIT must catch up. Measured on 2
 * cores at 2 CPUs: with 10 rounds and no warm-up the margins were 6 to 96%
 * (exits/s 14 to 88%); see docs/hugetlb-unshare.md for what they are now.
 */
export function stormPlan(quick: boolean, bystanders = 0, cpus?: readonly number[]): StormPlan {
  return {
    fixes: scenarioByName(SCENARIO)
      .fixes.map((f) => f.name)
      .filter((f) => f !== "x86-flush-ipi"),
    cpus:
      cpus !== undefined ? [...new Set(cpus)].sort((a, b) => a - b) : quick ? [2, 4] : [2, 4, 8],
    shares: quick ? [2, 3] : [2, 3, 4],
    bystanders: bystanders > 0 ? [0, bystanders] : [0],
    worlds: 8,
    ptes: 8,
    runMs: quick ? 40 : 100,
    warmMs: quick ? 10 : 25,
    rounds: quick ? 6 : 20,
  };
}

export interface StormCell {
  fix: string;
  cpus: number;
  shares: number;
  /** bystander CPUs beside them (absent: 0) */
  bystanders?: number;
  /** one unshare (an exit's time over its tables), microseconds: every round's exits pooled */
  unshareP50Us: number;
  unshareP99Us: number;
  unshareP50Rme: number | null;
  unshareP99Rme?: number | null;
  exitsPerSec: number;
  exitsPerSecRme?: number | null;
  /**
   * the exit-fork loop's slowdown against policy none in the same round
   * (none's exits/s over this policy's): the analogue of the kernel's "fork 4x slower"
   */
  exitSlowdown?: number;
  exitSlowdownRme?: number | null;
  /** GUP-fast calls per second per walker in the parent (mm 0), and against policy none in the same round */
  walkerCallsPerSec: number;
  walkerVsNone: number;
  walkerVsNoneRme: number | null;
  /** walks in the children's mms that found their PUD cleared */
  fallbackRate: number;
  /** IPI handler entries (walkers and bystanders) per exit */
  ipisPerExit: number;
}

export interface StormResults {
  tool: "gupstress-storm";
  plan: StormPlan;
  cores: number;
  /** how the margins were computed (absent: the mean over rounds, Student t) */
  margins?: "median-os";
  /** when it ran (ISO), and the commit (absent in older files) */
  date?: string;
  cells: StormCell[];
  wallMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function runCell(
  pool: Piscina,
  fix: string,
  cpus: number,
  shares: number,
  p: StormPlan,
  bystanders = 0,
): Promise<StormReport[]> {
  const geo: Geometry = {
    cpus,
    regions: p.worlds,
    ptes: p.ptes,
    frames: (p.worlds * p.ptes + 2) * p.ptes,
    traceRing: 16,
    ...(bystanders > 0 ? { bystanders } : {}),
  };
  const every = allCpus(geo);
  const mem = new Memory(geo);
  for (let w = 0; w < p.worlds; w++) setupWorld(mem, w, shares);
  const spinLimit = every > availableParallelism() ? 64 : 20_000;
  const tasks = Array.from({ length: every }, (_, cpu) =>
    pool.run({ sab: mem.sab, geo, cpu, fix, mms: shares, spinLimit } satisfies StormTask),
  );
  // The run's time starts once every CPU is online (a worker may take a while to start).
  const started = performance.now();
  const offline = () =>
    Array.from({ length: every }, (_, c) => mem.load(mem.cpuA(c, CPU_A.online))).includes(0);
  while (offline() && performance.now() - started < 10_000) await sleep(1);
  await sleep(p.warmMs ?? 0);
  mem.store(CTL.measuring, 1);
  await sleep(p.runMs);
  mem.store(CTL.stop, 1);
  for (let c = 0; c < every; c++) kick(mem, c);
  return (await Promise.all(tasks)) as StormReport[];
}

export async function runStorm(
  p: StormPlan,
  log: (s: string) => void,
  signal?: AbortSignal,
): Promise<StormResults> {
  const t0 = performance.now();
  const file = distFile("workers/storm-entry.cjs");
  const bystanders = p.bystanders ?? [0];
  const maxCpus = Math.max(...p.cpus) + Math.max(...bystanders);
  const pool = new Piscina({
    filename: file,
    minThreads: maxCpus,
    maxThreads: maxCpus,
    idleTimeout: Number.POSITIVE_INFINITY,
    concurrentTasksPerWorker: 1,
  });
  type Figures = {
    /** this run's unshares, us (at most 1000, evenly thinned) */
    unshareUs: number[];
    exits: number;
    calls: number;
    fb: number;
    ipis: number;
  };
  const by = new Map<string, Figures[]>();
  const keyOf = (fix: string, cpus: number, shares: number, b: number) =>
    `${fix}/${cpus}/${shares}/${b}`;
  try {
    // Warm-up (discarded): every worker starts and compiles the paths it will run.
    for (const cpus of p.cpus)
      for (const fix of p.fixes) {
        if (signal?.aborted) throw new Error("interrupted");
        await runCell(pool, fix, cpus, 2, p, Math.max(...bystanders));
      }
    for (let round = 0; round < p.rounds; round++) {
      for (const b of bystanders)
        for (const cpus of p.cpus)
          for (const shares of p.shares)
            for (const fix of p.fixes) {
              if (signal?.aborted) throw new Error("interrupted");
              const reps = await runCell(pool, fix, cpus, shares, p, b);
              const u = reps[0];
              const k = Math.max(1, Math.ceil(u.exitNs.length / 1000));
              const perUnshare: number[] = [];
              for (let i = 0; i < u.exitNs.length; i += k)
                perUnshare.push(u.exitNs[i] / p.worlds / 1000);
              // The walkers' slowdown is read in the parent (mm 0), whose PUDs never go away;
              // the children's walkers fall back (cheaply) while their mm is exiting.
              const walkers = reps.filter((r) => r.cpu > 0 && r.cpu < cpus);
              const parent = walkers.filter((r) => r.mm === 0);
              const children = walkers.filter((r) => r.mm > 0);
              const calls = parent.reduce((a, r) => a + r.calls / (r.ms / 1000), 0) / parent.length;
              const fb = children.reduce((a, r) => a + r.fallbacks, 0);
              const all = children.reduce((a, r) => a + r.calls, 0);
              const key = keyOf(fix, cpus, shares, b);
              by.set(key, [
                ...(by.get(key) ?? []),
                {
                  unshareUs: perUnshare,
                  exits: u.exits / (u.ms / 1000),
                  calls,
                  fb: all > 0 ? fb / all : 0,
                  ipis: u.ipis / Math.max(1, u.exits),
                },
              ]);
            }
      log(`storm round ${round + 1}/${p.rounds} done`);
    }
  } finally {
    await pool.destroy();
  }
  const cells: StormCell[] = [];
  for (const b of bystanders)
    for (const cpus of p.cpus)
      for (const shares of p.shares)
        for (const fix of p.fixes) {
          const f = by.get(keyOf(fix, cpus, shares, b)) ?? [];
          const none = by.get(keyOf(p.fixes[0], cpus, shares, b)) ?? [];
          const e = (k: "exits" | "calls" | "fb" | "ipis"): Interval =>
            medianEstimate(f.map((x) => x[k]));
          const walker = pairedRatioMedian(
            f.map((x) => x.calls),
            none.map((x) => x.calls),
          );
          const slow = pairedRatioMedian(
            none.map((x) => x.exits),
            f.map((x) => x.exits),
          );
          const p50 = pooledQuantile(
            f.map((x) => x.unshareUs),
            0.5,
          );
          const p99 = pooledQuantile(
            f.map((x) => x.unshareUs),
            0.99,
          );
          cells.push({
            fix,
            cpus,
            shares,
            ...(b > 0 ? { bystanders: b } : {}),
            unshareP50Us: p50.value,
            unshareP99Us: p99.value,
            unshareP50Rme: p50.rme,
            unshareP99Rme: p99.rme,
            exitsPerSec: e("exits").value,
            exitsPerSecRme: e("exits").rme,
            exitSlowdown: slow.value,
            exitSlowdownRme: slow.rme,
            walkerCallsPerSec: e("calls").value,
            walkerVsNone: walker.value,
            walkerVsNoneRme: walker.rme,
            fallbackRate: e("fb").value,
            ipisPerExit: e("ipis").value,
          });
        }
  return {
    tool: "gupstress-storm",
    plan: p,
    cores: availableParallelism(),
    margins: "median-os",
    date: new Date().toISOString(),
    cells,
    wallMs: performance.now() - t0,
  };
}
