// The threaded drivers: what one worker thread does as one CPU. They run the
// kernel's steps back to back, with delay points between them, and take IPIs
// only where interrupts are on (after G9, between operations, while waiting).

import { performance } from "node:perf_hooks";
import {
  type Collapse,
  collapseDone,
  collapseStep,
  newCollapse,
  startCollapse,
} from "../kernel/collapse.js";
import { Cpu } from "../kernel/cpu.js";
import { findFix } from "../kernel/fixes.js";
import { populateRegion } from "../kernel/frames.js";
import { type GupWalk, gupFastStep, newWalk, startWalk, unpinStep } from "../kernel/gup.js";
import { ipiAcked, kick } from "../kernel/irq.js";
import { BLOCKED, DONE, STEP } from "../kernel/steps.js";
import { roleOf } from "../kernel/trace.js";
import {
  CPU_A,
  CTL,
  FAULT_CRASH,
  FAULT_HARNESS,
  FIRST_RACE_MAX_ENTRIES,
  FRAME,
  type Geometry,
  Memory,
  PMD_HUGE,
  pmdKind,
  REGION,
  STAT,
  STAT_COUNT,
  STOP_GRACEFUL,
  TRACE,
  TRACE_WORDS,
} from "../memory/layout.js";
import {
  collapseOutcomeStat,
  dataTag,
  gradeWalk,
  type Verdict,
} from "../scenarios/gup-vs-collapse.js";
import type { RunConfig } from "./config.js";
import { calibrateSpin, Delays } from "./delay.js";
import { injectFault } from "./faults.js";
import { Rng } from "./random.js";
import { raiseFault, requestStop, Waiter } from "./wait.js";

export interface CpuTask {
  sab: SharedArrayBuffer;
  geo: Geometry;
  cpu: number;
  config: RunConfig;
  /** spins before a wait sleeps */
  spinLimit: number;
  /** lockstep: CPU 0 waits for every GUP CPU before each trial (set when CPUs outnumber cores) */
  trialBarrier: boolean;
  /**
   * freerun: a GUP CPU idles this long (ms) after every burst of calls, so that
   * CPUs outnumbering cores leave the cores to each other; 0 when every CPU has a core.
   */
  idleMs: number;
}

export interface CpuReport {
  cpu: number;
  role: "collapse" | "gup-fast";
  /** what the oracle saw that the scenario does not declare (first few) */
  undeclared: string[];
  spinsPerNs: number;
  /** milliseconds from the task's start to the moment every CPU was online */
  startupMs: number;
  samples: LatencySamples;
}

/** Latency samples in nanoseconds (performance.now() around whole operations). */
export interface LatencySamples {
  gupNs: number[];
  collapseNs: number[];
  /** from K5 (send) to K5W (every ack in) */
  ipiWaitNs: number[];
}

const MAX_SAMPLES = 50_000;

function sample(into: number[], ns: number): void {
  if (into.length < MAX_SAMPLES) into.push(ns);
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** Per-CPU state shared by both drivers. */
class CpuRun {
  readonly mem: Memory;
  readonly cpu: Cpu;
  readonly config: RunConfig;
  readonly waiter: Waiter;
  readonly rng: Rng;
  readonly delays: Delays;
  readonly spinsPerNs: number;
  /** local statistics, flushed to shared memory */
  readonly st = new Float64Array(STAT_COUNT);
  readonly undeclared: string[] = [];
  /** time every Nth GUP-fast call and collapse (0: none) */
  readonly sampleEvery: number;
  readonly trialBarrier: boolean;
  readonly idleMs: number;
  /** take pending IPIs: for delays spent with interrupts on */
  readonly poll = (): void => this.waiter.serviceIpis();
  readonly samples: LatencySamples = { gupNs: [], collapseNs: [], ipiWaitNs: [] };

  constructor(task: CpuTask) {
    this.config = task.config;
    this.sampleEvery = task.config.sampleEvery;
    this.trialBarrier = task.trialBarrier;
    this.idleMs = task.idleMs;
    this.mem = new Memory(task.geo, task.sab);
    const fix = findFix(task.config.fix);
    if (!fix) throw new Error(`unknown fix ${task.config.fix}`);
    this.cpu = new Cpu(this.mem, task.cpu, fix, task.config.trace);
    this.waiter = new Waiter(this.cpu, task.config.stallMs, task.spinLimit);
    this.rng = new Rng(task.config.seed, task.cpu);
    this.spinsPerNs = calibrateSpin();
    this.delays = new Delays(task.config.delays, this.rng, this.spinsPerNs);
  }

  flush(): void {
    this.waiter.beat();
    const mem = this.mem;
    const st = this.st;
    st[STAT.ipiTaken] = mem.load(mem.cpuA(this.cpu.id, CPU_A.ipiTaken));
    for (let s = 0; s < STAT_COUNT; s++) {
      Atomics.store(mem.i64, mem.stat(this.cpu.id, s), BigInt(Math.round(st[s])));
    }
  }

  /** Run one walk to its end, with delay points; take IPIs once interrupts are back on. */
  walk(w: GupWalk): void {
    const cpu = this.cpu;
    const delays = this.delays;
    const lax = cpu.fix.ipiWhileIrqOff;
    const timed = this.sampleEvery > 0 && this.st[STAT.gupCalls] % this.sampleEvery === 0;
    const t0 = timed ? performance.now() : 0;
    while (w.pc !== DONE) {
      const s = gupFastStep(cpu, w);
      delays.after(s);
      if (lax) this.waiter.serviceIpis();
    }
    if (timed) sample(this.samples.gupNs, (performance.now() - t0) * 1e6);
    this.waiter.serviceIpis();
    const st = this.st;
    st[STAT.gupCalls]++;
    st[STAT.pins] += w.nr;
  }

  /** Run one collapse to its end; returns false if a wait for IPI acks was cut short. */
  collapse(c: Collapse): boolean {
    const cpu = this.cpu;
    const delays = this.delays;
    const mem = this.mem;
    const timed = this.sampleEvery > 0 && this.st[STAT.collapseAttempted] % this.sampleEvery === 0;
    const t0 = timed ? performance.now() : 0;
    let ipiStart = 0;
    while (!collapseDone(c)) {
      const s = collapseStep(cpu, c);
      if (s === BLOCKED) {
        const w0 = performance.now();
        const ok = this.waiter.until(
          () => allAcked(mem, c),
          () => firstUnacked(mem, c),
          "IPI acks",
        );
        this.st[STAT.ipiWaitNs] += (performance.now() - w0) * 1e6;
        if (!ok) return false;
        continue;
      }
      if (s === STEP.K5) {
        this.st[STAT.ipiBroadcasts]++;
        if (timed) ipiStart = performance.now();
      } else if (s === STEP.K5W && timed)
        sample(this.samples.ipiWaitNs, (performance.now() - ipiStart) * 1e6);
      delays.after(s);
    }
    if (timed) sample(this.samples.collapseNs, (performance.now() - t0) * 1e6);
    this.st[STAT.collapseAttempted]++;
    this.st[collapseOutcomeStat(c.result)]++;
    return true;
  }

  /** Count a verdict; the first race of the run is written to the first-race slot. */
  count(v: Verdict, w: GupWalk): void {
    this.st[v.stat]++;
    if (v.stat === STAT.races) {
      if (v.confirmed) this.st[STAT.confirmed]++;
      this.recordFirstRace(v, w);
    } else if (v.stat === STAT.undeclared && this.undeclared.length < 8) {
      this.undeclared.push(v.detail);
    }
  }

  recordFirstRace(v: Verdict, w: GupWalk): void {
    const mem = this.mem;
    if (Atomics.compareExchange(mem.i32, CTL.firstRaceTaken, 0, 1) !== 0) return;
    const startUs = Number(Atomics.load(mem.i64, mem.stat(0, STAT.startUs)));
    this.st[STAT.firstRaceUs] = Math.max(1, nowUs() - startUs);
    mem.store(CTL.firstRaceCpu, this.cpu.id);
    mem.store(CTL.firstRaceRegion, w.region);
    mem.store(CTL.firstRaceIndex, v.index);
    mem.store(CTL.firstRaceFrame, v.frame);
    mem.store(CTL.firstRaceConfirmed, v.confirmed ? 1 : 0);
    const entries = raceTrace(mem, this.cpu.id, w);
    const n = Math.min(entries.length, FIRST_RACE_MAX_ENTRIES);
    for (let e = 0; e < n; e++) {
      const src = entries[e];
      for (let f = 0; f < TRACE_WORDS; f++) mem.store(mem.firstRace(e, f), src.fields[f]);
      mem.store(mem.firstRace(e, TRACE_WORDS), src.cpu);
    }
    mem.store(CTL.firstRaceEntries, n);
    this.flush();
    if (this.config.untilRace) requestStop(mem, STOP_GRACEFUL);
  }

  /** Mark this CPU online and wait for all the others. */
  attach(): boolean {
    const mem = this.mem;
    mem.store(mem.cpuA(this.cpu.id, CPU_A.online), 1);
    for (let c = 0; c < mem.geo.cpus; c++) kick(mem, c);
    // Starting many workers on few cores takes a while: that is not a stall.
    const ok = this.waiter.until(
      () => firstOffline(mem) < 0,
      () => Math.max(0, firstOffline(mem)),
      "the other CPUs to come online",
      this.config.stallMs + 500 * mem.geo.cpus,
    );
    if (ok && this.cpu.id === 0) {
      this.st[STAT.startUs] = nowUs();
      this.flush();
    }
    return ok;
  }
}

function firstOffline(mem: Memory): number {
  for (let c = 0; c < mem.geo.cpus; c++) if (mem.load(mem.cpuA(c, CPU_A.online)) === 0) return c;
  return -1;
}

function allAcked(mem: Memory, c: Collapse): boolean {
  for (let k = 0; k < c.nTargets; k++) if (!ipiAcked(mem, c.targets[k], c.epochs[k])) return false;
  return true;
}

function firstUnacked(mem: Memory, c: Collapse): number {
  for (let k = 0; k < c.nTargets; k++)
    if (!ipiAcked(mem, c.targets[k], c.epochs[k])) return c.targets[k];
  return 0;
}

interface TraceEntry {
  cpu: number;
  fields: number[];
}

/** Read a CPU's ring entries that satisfy `keep`, oldest first. */
function ringEntries(mem: Memory, cpu: number, keep: (f: number[]) => boolean): TraceEntry[] {
  const head = mem.load(mem.cpuA(cpu, CPU_A.traceHead));
  const ring = mem.geo.traceRing;
  const out: TraceEntry[] = [];
  for (let i = Math.max(0, head - ring); i < head; i++) {
    const slot = i % ring;
    const fields: number[] = [];
    for (let f = 0; f < TRACE_WORDS; f++) fields.push(mem.load(mem.trace(cpu, slot, f)));
    if (keep(fields)) out.push({ cpu, fields });
  }
  return out;
}

/**
 * The interleaving of a race: the walker's steps from G0 to G9 and the
 * collapse of the same region that released the stale page, in clock order.
 */
function raceTrace(mem: Memory, walker: number, w: GupWalk): TraceEntry[] {
  const mine = ringEntries(
    mem,
    walker,
    (f) => f[TRACE.clock] >= w.startClock && f[TRACE.clock] <= w.endClock,
  );
  const serial = mem.load(mem.frame(mem.load(CTL.firstRaceFrame), FRAME.releasedBy));
  const theirs = ringEntries(mem, 0, (f) => f[TRACE.region] === w.region);
  // Cut out the collapse that released the page: from its K0 to its K11.
  const k8 = theirs.findIndex(
    (e) => e.fields[TRACE.step] === STEP.K8 && e.fields[TRACE.value] === serial,
  );
  let from = k8;
  while (from > 0 && theirs[from].fields[TRACE.step] !== STEP.K0) from--;
  let to = k8;
  while (to >= 0 && to < theirs.length - 1 && theirs[to].fields[TRACE.step] !== STEP.K11) to++;
  const collapse = k8 < 0 ? [] : theirs.slice(from, to + 1);
  return [...mine, ...collapse].sort((a, b) => a.fields[TRACE.clock] - b.fields[TRACE.clock]);
}

// ---------------------------------------------------------------------------
// lockstep: rounds of `regions` independent trials. CPU 0 announces each
// region's trial; every CPU starts it after its own seeded random offset
// (litmus7's timebase mode). After the round, each GUP CPU grades its walks
// with the pins still held, unpins, and CPU 0 resets the regions.

function lockstepCollapse(run: CpuRun): void {
  const mem = run.mem;
  const regions = mem.geo.regions;
  const iterations = run.config.iterations;
  const c = newCollapse(run.cpu.fix, mem.geo.cpus);
  const st = run.st;
  for (let round = 1; ; round++) {
    const enough = iterations !== null && st[STAT.iterations] >= iterations;
    if (enough || mem.load(CTL.stop) !== 0) break;
    mem.store(CTL.roundOpen, round);
    kickAll(mem);
    for (let r = 0; r < regions; r++) {
      if (run.trialBarrier) {
        // Oversubscribed: start each trial together (jcstress's barrier), or a
        // descheduled GUP CPU arrives after the collapse and only sees a huge pmd.
        const trial = (round - 1) * regions + r + 1;
        const ready = run.waiter.until(
          () => notReady(mem, trial) < 0,
          () => Math.max(1, notReady(mem, trial)),
          "GUP CPUs to reach the next trial",
        );
        if (!ready) return;
      }
      mem.store(mem.region(r, REGION.announce), round);
      kickAll(mem);
      run.delays.start(run.poll);
      startCollapse(c, r);
      if (!run.collapse(c)) return;
      st[STAT.iterations]++;
    }
    mem.store(CTL.roundDone, round);
    kickAll(mem);
    const ok = run.waiter.until(
      () => laggard(mem, round) < 0,
      () => Math.max(1, laggard(mem, round)),
      "GUP CPUs to finish the round",
    );
    if (!ok) return;
    for (let r = 0; r < regions; r++) populateRegion(mem, r, dataTag(r, round));
    st[STAT.resets] += regions;
    st[STAT.roundTrips]++;
    run.flush();
    injectFault(run.config.fault, run.cpu, round);
  }
  mem.store(CTL.closed, 1);
  kickAll(mem);
}

function notReady(mem: Memory, trial: number): number {
  for (let c = 1; c < mem.geo.cpus; c++) if (mem.load(mem.cpuA(c, CPU_A.ready)) < trial) return c;
  return -1;
}

function laggard(mem: Memory, round: number): number {
  for (let c = 1; c < mem.geo.cpus; c++)
    if (mem.load(mem.cpuA(c, CPU_A.roundAck)) < round) return c;
  return -1;
}

function kickAll(mem: Memory): void {
  for (let c = 1; c < mem.geo.cpus; c++) kick(mem, c);
}

function lockstepGup(run: CpuRun): void {
  const mem = run.mem;
  const regions = mem.geo.regions;
  const ptes = mem.geo.ptes;
  const walks = Array.from({ length: regions }, () => newWalk(ptes));
  const id = run.cpu.id;
  for (let round = 1; ; round++) {
    const open = run.waiter.until(
      () => mem.load(CTL.roundOpen) >= round || mem.load(CTL.closed) !== 0,
      () => 0,
      "CPU 0 to open a round",
    );
    if (!open || mem.load(CTL.roundOpen) < round) return;
    for (let r = 0; r < regions; r++) {
      if (run.trialBarrier) {
        mem.store(mem.cpuA(id, CPU_A.ready), (round - 1) * regions + r + 1);
        kick(mem, 0);
      }
      const announced = run.waiter.until(
        () => mem.load(mem.region(r, REGION.announce)) >= round,
        () => 0,
        "CPU 0 to announce a trial",
      );
      if (!announced) return;
      run.delays.start(run.poll);
      const w = walks[r];
      startWalk(w, r, 0, ptes);
      run.walk(w);
      injectFault(run.config.fault, run.cpu, round);
    }
    const done = run.waiter.until(
      () => mem.load(CTL.roundDone) >= round,
      () => 0,
      "CPU 0 to finish the round's collapses",
    );
    if (!done) return;
    for (let r = 0; r < regions; r++) {
      const w = walks[r];
      const v = gradeWalk(mem, w, id);
      if (v.stat < 0) {
        raiseFault(mem, FAULT_HARNESS, id, 0, STEP.K10);
        run.undeclared.push(`region ${r}: collapse still in flight after the round`);
        return;
      }
      run.count(v, w);
      for (let k = 0; k < w.nr; k++) unpinStep(run.cpu, w, k);
    }
    run.flush();
    mem.store(mem.cpuA(id, CPU_A.roundAck), round);
    kick(mem, 0);
  }
}

// ---------------------------------------------------------------------------
// freerun: CPUs loop like real CPUs. Collapse walks the regions over and over
// (collapsing small ones, resetting huge ones); GUP-fast CPUs pin random
// ranges and hold the pins for a few more calls before grading and unpinning.

function freerunCollapse(run: CpuRun): void {
  const mem = run.mem;
  const regions = mem.geo.regions;
  const c = newCollapse(run.cpu.fix, mem.geo.cpus);
  const st = run.st;
  for (let r = 0, ops = 0; mem.load(CTL.stop) === 0; r = (r + 1) % regions, ops++) {
    const pmd = mem.load(mem.pmd(r));
    if (pmdKind(pmd) === PMD_HUGE) {
      populateRegion(mem, r, dataTag(r, ops));
      st[STAT.resets]++;
    } else {
      run.delays.start(run.poll);
      startCollapse(c, r);
      if (!run.collapse(c)) return;
    }
    run.waiter.serviceIpis();
    if ((ops & 63) === 0) {
      run.flush();
      injectFault(run.config.fault, run.cpu, ops);
    }
  }
  mem.store(CTL.closed, 1);
  kickAll(mem);
}

function freerunGup(run: CpuRun): void {
  const mem = run.mem;
  const { regions, ptes } = mem.geo;
  const hold = run.config.holdPins;
  const ring = Array.from({ length: hold + 1 }, () => newWalk(ptes));
  let head = 0;
  let held = 0;
  const st = run.st;
  const release = (w: GupWalk): boolean => {
    let v = gradeWalk(mem, w, run.cpu.id);
    if (v.stat < 0) {
      // A collapse is between K8 and K10 (or waiting for our IPI ack): let it finish.
      const ok = run.waiter.until(
        () => {
          v = gradeWalk(mem, w, run.cpu.id);
          return v.stat >= 0;
        },
        () => 0,
        "a collapse in flight to commit",
      );
      if (!ok) return false;
    }
    run.count(v, w);
    for (let k = 0; k < w.nr; k++) unpinStep(run.cpu, w, k);
    st[STAT.iterations]++;
    return true;
  };
  for (let ops = 0; mem.load(CTL.stop) === 0; ops++) {
    const w = ring[head];
    head = (head + 1) % ring.length;
    const r = run.rng.below(regions);
    const start = run.rng.below(ptes);
    run.delays.start(run.poll);
    startWalk(w, r, start, 1 + run.rng.below(ptes - start));
    run.walk(w);
    held++;
    if (held > hold) {
      if (!release(ring[head])) return;
      held--;
    }
    if ((ops & 255) === 0) {
      run.flush();
      injectFault(run.config.fault, run.cpu, ops);
    }
    if (run.idleMs > 0 && (ops & 63) === 63) run.waiter.idle(run.idleMs);
  }
  // Grade and release what is still held.
  for (let k = 0; k < held; k++) {
    if (!release(ring[(head - held + k + ring.length) % ring.length])) return;
  }
  // Keep answering IPIs until collapse has left: it may be waiting for our ack.
  run.waiter.until(
    () => mem.load(CTL.closed) !== 0,
    () => 0,
    "CPU 0 to finish its last collapse",
  );
}

/** The body of one worker: attach, run the role, flush, report. */
export function runCpu(task: CpuTask): CpuReport {
  const t0 = performance.now();
  const run = new CpuRun(task);
  const mem = run.mem;
  let startupMs = 0;
  try {
    if (run.attach()) {
      startupMs = performance.now() - t0;
      const lockstep = task.config.mode === "lockstep";
      if (task.cpu === 0) (lockstep ? lockstepCollapse : freerunCollapse)(run);
      else (lockstep ? lockstepGup : freerunGup)(run);
    }
  } catch (e) {
    run.flush();
    raiseFault(mem, FAULT_CRASH, task.cpu, task.cpu, mem.load(mem.cpuA(task.cpu, CPU_A.lastStep)));
    throw e;
  }
  run.flush();
  return {
    cpu: task.cpu,
    role: roleOf(task.cpu),
    undeclared: run.undeclared,
    spinsPerNs: run.spinsPerNs,
    startupMs,
    samples: run.samples,
  };
}
