// gupstress bench --storm: hugetlb unshare storms (gup-vs-hugetlb-unshare).
// CPU 0 runs fork/exit-like storms: an "exit" of one mm unshares its PUD from
// every world's shared PMD table T in one mmu_gather (huge_pmd_unshare per
// table, then tlb_remove_table_sync_one as the policy says: per table, or
// once per gather when a table became exclusively owned), and a "fork" shares
// them again. The other CPUs run GUP-fast walks in their own mm and take the
// IPIs. Per policy, CPU count and share count: the cost of one unshare (exit
// time / tables) and the walkers' calls per second against policy none.

import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { Piscina } from "piscina";
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
import { CPU_A, CTL, type Geometry, Memory } from "../memory/layout.js";
import { workerFile } from "../run/stress.js";
import { Waiter } from "../run/wait.js";
import { resolveFix, scenarioByName } from "../scenarios/index.js";
import { estimate, quantile } from "../stats/stats.js";

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
  /** walkers: IPI handler entries */
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
  mem.store(mem.cpuA(t.cpu, CPU_A.online), 1);
  for (let c = 0; c < t.geo.cpus; c++) kick(mem, c);
  const online = () => {
    for (let c = 0; c < t.geo.cpus; c++) if (mem.load(mem.cpuA(c, CPU_A.online)) === 0) return c;
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
  const t0 = performance.now();
  const worlds = t.geo.regions;
  if (t.cpu === 0) {
    const op = {
      targets: new Int32Array(t.geo.cpus),
      epochs: new Int32Array(t.geo.cpus),
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
    for (let i = 0; mem.load(CTL.stop) === 0; i++) {
      const mm = 1 + (i % (t.mms - 1));
      const s = performance.now();
      // exit: one mmu_gather over every PUD range of the mm
      let fully = false;
      for (let w = 0; w < worlds; w++) {
        if (hugePmdUnshare(mem, cpu.fix, w, mm) === 0) fully = true;
        if (!cpu.fix.unshareSyncLastOnly && !sync(w, mm)) break;
      }
      if (cpu.fix.unshareSyncLastOnly && fully) sync(0, mm);
      if (report.exitNs.length < MAX_SAMPLES) report.exitNs.push((performance.now() - s) * 1e6);
      report.exits++;
      // fork: share every table again
      for (let w = 0; w < worlds; w++) hugePmdShare(mem, w, mm);
    }
    mem.store(CTL.closed, 1);
    for (let c = 1; c < t.geo.cpus; c++) kick(mem, c);
  } else {
    const w = newHugeWalk(t.geo.ptes, t.mms);
    let seed = t.cpu * 7919;
    while (mem.load(CTL.stop) === 0) {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      startHugeWalk(w, (seed >>> 16) % worlds, 0, t.geo.ptes);
      while (w.pc !== DONE) hugeWalkStep(cpu, w);
      if (w.result === HWALK.FALLBACK_PUD) report.fallbacks++;
      hugeUnpinAll(cpu, w);
      waiter.serviceIpis();
      report.calls++;
    }
    // Keep answering IPIs until the unsharer has finished its last exit.
    waiter.until(
      () => mem.load(CTL.closed) !== 0,
      () => 0,
      "CPU 0 to finish",
    );
  }
  report.ms = performance.now() - t0;
  report.ipis = mem.load(mem.cpuA(t.cpu, CPU_A.ipiTaken));
  return report;
}

export interface StormPlan {
  fixes: string[];
  cpus: number[];
  shares: number[];
  worlds: number;
  ptes: number;
  runMs: number;
  rounds: number;
}

export function stormPlan(quick: boolean): StormPlan {
  return {
    fixes: scenarioByName(SCENARIO)
      .fixes.map((f) => f.name)
      .filter((f) => f !== "x86-flush-ipi"),
    cpus: quick ? [2, 4] : [2, 3, 4, 8],
    shares: quick ? [2, 3] : [2, 3, 4],
    worlds: 8,
    ptes: 8,
    runMs: quick ? 150 : 300,
    rounds: quick ? 1 : 3,
  };
}

export interface StormCell {
  fix: string;
  cpus: number;
  shares: number;
  /** one unshare (an exit's time over its tables), microseconds, per round */
  unshareP50Us: number;
  unshareP99Us: number;
  unshareP50Rme: number | null;
  exitsPerSec: number;
  /** GUP-fast calls per second per walker in the parent (mm 0), and against policy none in the same round */
  walkerCallsPerSec: number;
  walkerVsNone: number;
  walkerVsNoneRme: number | null;
  /** walks in the children's mms that found their PUD cleared */
  fallbackRate: number;
  /** IPI handler entries (all walkers) per exit */
  ipisPerExit: number;
}

export interface StormResults {
  tool: "gupstress-storm";
  plan: StormPlan;
  cores: number;
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
): Promise<StormReport[]> {
  const geo: Geometry = {
    cpus,
    regions: p.worlds,
    ptes: p.ptes,
    frames: (p.worlds * p.ptes + 2) * p.ptes,
    traceRing: 16,
  };
  const mem = new Memory(geo);
  for (let w = 0; w < p.worlds; w++) setupWorld(mem, w, shares);
  const spinLimit = cpus > availableParallelism() ? 64 : 20_000;
  const tasks = Array.from({ length: cpus }, (_, cpu) =>
    pool.run({ sab: mem.sab, geo, cpu, fix, mms: shares, spinLimit } satisfies StormTask),
  );
  // The run's time starts once every CPU is online (a worker may take a while to start).
  const started = performance.now();
  const offline = () =>
    Array.from({ length: cpus }, (_, c) => mem.load(mem.cpuA(c, CPU_A.online))).includes(0);
  while (offline() && performance.now() - started < 10_000) await sleep(1);
  await sleep(p.runMs);
  mem.store(CTL.stop, 1);
  for (let c = 0; c < cpus; c++) kick(mem, c);
  return (await Promise.all(tasks)) as StormReport[];
}

export async function runStorm(p: StormPlan, log: (s: string) => void): Promise<StormResults> {
  const t0 = performance.now();
  const file = workerFile().replace(/cpu\.js$/, "storm.js");
  const maxCpus = Math.max(...p.cpus);
  const pool = new Piscina({
    filename: file,
    minThreads: maxCpus,
    maxThreads: maxCpus,
    idleTimeout: Number.POSITIVE_INFINITY,
    concurrentTasksPerWorker: 1,
  });
  type Figures = {
    p50: number;
    p99: number;
    exits: number;
    calls: number;
    fb: number;
    ipis: number;
  };
  const by = new Map<string, Figures[]>();
  try {
    // Warm-up (discarded): every worker starts and compiles the paths it will run.
    for (const cpus of p.cpus) for (const fix of p.fixes) await runCell(pool, fix, cpus, 2, p);
    for (let round = 0; round < p.rounds; round++) {
      for (const cpus of p.cpus)
        for (const shares of p.shares)
          for (const fix of p.fixes) {
            const reps = await runCell(pool, fix, cpus, shares, p);
            const u = reps[0];
            const perUnshare = u.exitNs.map((ns) => ns / p.worlds / 1000);
            // The walkers' slowdown is read in the parent (mm 0), whose PUDs never go away;
            // the children's walkers fall back (cheaply) while their mm is exiting.
            const parent = reps.filter((r) => r.mm === 0);
            const children = reps.filter((r) => r.mm > 0);
            const calls = parent.reduce((a, r) => a + r.calls / (r.ms / 1000), 0) / parent.length;
            const fb = children.reduce((a, r) => a + r.fallbacks, 0);
            const all = children.reduce((a, r) => a + r.calls, 0);
            const key = `${fix}/${cpus}/${shares}`;
            by.set(key, [
              ...(by.get(key) ?? []),
              {
                p50: quantile(perUnshare, 0.5),
                p99: quantile(perUnshare, 0.99),
                exits: u.exits / (u.ms / 1000),
                calls,
                fb: all > 0 ? fb / all : 0,
                ipis: reps.reduce((a, r) => a + r.ipis, 0) / Math.max(1, u.exits),
              },
            ]);
          }
      log(`storm round ${round + 1}/${p.rounds} done`);
    }
  } finally {
    await pool.destroy();
  }
  const cells: StormCell[] = [];
  for (const cpus of p.cpus)
    for (const shares of p.shares)
      for (const fix of p.fixes) {
        const f = by.get(`${fix}/${cpus}/${shares}`) ?? [];
        const none = by.get(`${p.fixes[0]}/${cpus}/${shares}`) ?? [];
        const e = (k: keyof Figures) => estimate(f.map((x) => x[k]));
        const ratio = estimate(f.map((x, i) => x.calls / none[i].calls));
        cells.push({
          fix,
          cpus,
          shares,
          unshareP50Us: e("p50").value,
          unshareP99Us: e("p99").value,
          unshareP50Rme: e("p50").rme,
          exitsPerSec: e("exits").value,
          walkerCallsPerSec: e("calls").value,
          walkerVsNone: ratio.value,
          walkerVsNoneRme: ratio.rme,
          fallbackRate: e("fb").value,
          ipisPerExit: e("ipis").value,
        });
      }
  return {
    tool: "gupstress-storm",
    plan: p,
    cores: availableParallelism(),
    cells,
    wallMs: performance.now() - t0,
  };
}

const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const pct = (x: number | null) => (x === null || !Number.isFinite(x) ? "" : ` ±${x.toFixed(0)}%`);

export function stormMarkdown(r: StormResults): string {
  const out: string[] = [
    `# hugetlb unshare storms (${SCENARIO})`,
    "",
    `${r.cores} cores; ${r.plan.worlds} shared PMD tables per mm (one per PUD range), ${r.plan.ptes} entries each; ${r.plan.rounds} round(s) of ${r.plan.runMs} ms per cell.`,
    "CPU 0 loops exit (unshare every table of one child mm, one mmu_gather) + fork (share them again), over the children (mms 1..shares-1); mm 0 is the parent, which never exits. The other CPUs run GUP-fast in their own mm (CPU c in mm (c-1) mod shares); walker calls/s are the parent's walkers'.",
    `Rows above ${r.cores} CPUs are oversubscribed: read the shape of the curve, not the figures.`,
    "An IPI here is a futex wake between threads (tens of microseconds), not an APIC IPI (1 to 3 us).",
    "",
    "| shares | CPUs | policy | unshare p50 us | unshare p99 us | exits/s | IPIs taken per exit | parent walker calls/s | vs none | children's walks that fell back |",
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const c of r.cells) {
    out.push(
      `| ${c.shares} | ${c.cpus}${c.cpus > r.cores ? "*" : ""} | ${c.fix} | ${num(c.unshareP50Us)}${pct(c.unshareP50Rme)} | ${num(c.unshareP99Us)} | ${num(c.exitsPerSec, 0)} | ${num(c.ipisPerExit, 1)} | ${num(c.walkerCallsPerSec, 0)} | ${num(c.walkerVsNone)}${pct(c.walkerVsNoneRme)} | ${num(c.fallbackRate * 100, 1)}% |`,
    );
  }
  out.push("", "\\* oversubscribed (more emulated CPUs than cores).", "");
  return out.join("\n");
}
