// The threaded drivers: what one worker thread does as one CPU, for any
// scenario. CPU 0 runs the scenario's mutator program, the others its walker
// program; the drivers add only the protocol (rounds, barriers, stop, flush),
// delay points between steps, and IPIs taken where interrupts are on (after
// a walk, between operations, while waiting).

import { performance } from "node:perf_hooks";
import { bystanderStep } from "../kernel/bystander.js";
import { Cpu } from "../kernel/cpu.js";
import { allAcked, firstUnacked, type IpiWait, kick } from "../kernel/irq.js";
import { BLOCKED } from "../kernel/steps.js";
import { type RawEntry, readRing, roleOf } from "../kernel/trace.js";
import {
  allCpus,
  CPU_A,
  CTL,
  FAULT_CRASH,
  FAULT_HARNESS,
  FAULT_STARTUP,
  FIRST_RACE_MAX_ENTRIES,
  type Geometry,
  Memory,
  STAT,
  STAT_COUNT,
  STAT_OUTCOME_BASE,
  STOP_ABORT,
  STOP_GRACEFUL,
  TRACE,
  TRACE_WORDS,
} from "../memory/layout.js";
import { loadScenario } from "../scenarios/loaders.js";
import {
  type MutatorProgram,
  resolveFix,
  type Scenario,
  type Verdict,
  type WalkerProgram,
} from "../scenarios/scenario.js";
import { BYSTANDER_OFF_NS, startupBoundMs } from "./bounds.js";
import type { RunConfig } from "./config.js";
import { calibrateSpin, Delays, spin } from "./delay.js";
import { injectFault } from "./faults.js";
import { delayTurbofan } from "./jit.js";
import { Rng } from "./random.js";
import { raiseFault, requestStop, Waiter } from "./wait.js";
import { WARMUP_MS, WARMUP_TRIALS, Warmer, type WarmUp, warmUp } from "./warmup.js";

export interface CpuTask {
  sab: SharedArrayBuffer;
  geo: Geometry;
  cpu: number;
  config: RunConfig;
  /** spins before a wait sleeps */
  spinLimit: number;
  /** lockstep: CPU 0 waits for every GUP CPU before each trial */
  trialBarrier: boolean;
  /**
   * freerun: a GUP CPU idles this long (ms) after every burst of calls, so that
   * CPUs outnumbering cores leave the cores to each other; 0 when every CPU has a core.
   */
  idleMs: number;
  /**
   * go on warming the step code while waiting for the other CPUs to come
   * online (src/run/warmup.ts); off unless a core is spare beside the CPUs
   * and the main thread: it would take a core from the CPUs still starting
   */
  warmWhileWaiting?: boolean;
  /**
   * CPU 0 sets V8's flags (src/run/jit.ts) only once every CPU's thread has
   * started (CTL.started), not at once: a thread that starts after they
   * changed compiles all of Node's own modules afresh. On when CPUs outnumber
   * cores, where most threads start after CPU 0; with a core each, setting
   * them later made the first race later.
   */
  jitWhenAllStarted?: boolean;
}

export interface CpuReport {
  cpu: number;
  role: "mutator" | "walker" | "bystander";
  /** what the oracle saw that the scenario does not declare (first few) */
  undeclared: string[];
  spinsPerNs: number;
  /** random delays it slept instead of spinning (CTL.delaySleep, src/run/adapt.ts; one host preemption in four) */
  sleptDelays: number;
  /** the JIT warm-up it ran on scratch memory before coming online (src/run/warmup.ts) */
  warmUp: WarmUp;
  /** the V8 flags this CPU set to delay TurboFan (src/run/jit.ts); null: V8's defaults (eagerJit) */
  jitFlags: string[] | null;
  /** milliseconds from the task's start to the moment every CPU was online */
  startupMs: number;
  samples: LatencySamples;
  /** what this CPU's thread did with the build's code cache (workers/cpu-entry.cts); set there */
  codeCache?: CodeCacheUse;
}

/**
 * The build's code cache in a CPU's thread: the one it loaded (made under
 * V8's default flags, or under the flags that delay optimisation), none that
 * matched this V8 ("none": another Node than the build's), one V8 refused,
 * or no bundle (a build without scripts/bundle-worker.mjs).
 */
export type CodeCacheUse = "default" | "delayed" | "none" | "rejected" | "no bundle";

/** Latency samples in nanoseconds (performance.now() around whole operations). */
export interface LatencySamples {
  gupNs: number[];
  /** the mutator's trial operations (phase 0: a collapse) */
  collapseNs: number[];
  /** from an IPI broadcast to its last ack */
  ipiWaitNs: number[];
  /** the mutator's trial operations (phase 0): time spent blocked (IPI acks, a grace period), 0 if none */
  opWaitNs: number[];
}

const MAX_SAMPLES = 50_000;

/**
 * Lockstep traces one trial in this many (and every trial after an undrawn
 * race): a prime, so that the traced region rotates whatever the regions.
 */
export const TRACE_ONE_IN = 61;

function sample(into: number[], ns: number): void {
  if (into.length < MAX_SAMPLES) into.push(ns);
}

const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/**
 * Run one walk to its end, with a delay point after each step; take pending
 * IPIs once interrupts are back on. The drivers and the bench's harness
 * figure both run this.
 */
export function walkToEnd(
  cpu: Cpu,
  walker: WalkerProgram,
  w: unknown,
  delays: Delays,
  waiter: Waiter,
): void {
  if (cpu.fix.ipiWhileIrqOff) {
    while (!walker.done(w)) {
      delays.after(walker.step(cpu, w));
      waiter.serviceIpis();
    }
  } else {
    while (!walker.done(w)) delays.after(walker.step(cpu, w));
  }
  waiter.serviceIpis();
}

/** A walk's pages in [first, first + count): the whole region half the time, else a random part. */
export function pickRange(rng: Rng, ptes: number): [number, number] {
  if (rng.next() & 1) return [0, ptes];
  const first = rng.below(ptes);
  return [first, 1 + rng.below(ptes - first)];
}

/** Per-CPU state shared by both drivers. */
class CpuRun {
  readonly mem: Memory;
  readonly cpu: Cpu;
  readonly scenario: Scenario;
  readonly mutator: MutatorProgram;
  readonly walker: WalkerProgram;
  readonly config: RunConfig;
  readonly waiter: Waiter;
  readonly rng: Rng;
  readonly delays: Delays;
  readonly spinsPerNs: number;
  /** local statistics, flushed to shared memory */
  readonly st = new Float64Array(STAT_COUNT);
  readonly undeclared: string[] = [];
  /** per outcome index: counts as a race (declared FORBIDDEN), or the undeclared catch-all */
  private readonly race: boolean[];
  private readonly undeclaredOutcome: number;
  /** time every Nth GUP-fast call and mutator operation (0: none) */
  readonly sampleEvery: number;
  readonly trialBarrier: boolean;
  readonly idleMs: number;
  /** take pending IPIs: for delays spent with interrupts on */
  readonly poll = (): void => this.waiter.serviceIpis();
  readonly samples: LatencySamples = { gupNs: [], collapseNs: [], ipiWaitNs: [], opWaitNs: [] };

  constructor(task: CpuTask, scenario: Scenario) {
    this.config = task.config;
    this.sampleEvery = task.config.sampleEvery;
    this.trialBarrier = task.trialBarrier;
    this.idleMs = task.idleMs;
    this.mem = new Memory(task.geo, task.sab);
    this.scenario = scenario;
    this.mutator = this.scenario.mutator;
    this.walker = this.scenario.walker;
    const outcomes = this.scenario.outcomes;
    this.race = outcomes.map((o) => o.grade === "FORBIDDEN" && o.tag !== "undeclared");
    this.undeclaredOutcome = outcomes.findIndex((o) => o.tag === "undeclared");
    this.cpu = new Cpu(
      this.mem,
      task.cpu,
      resolveFix(this.scenario, task.config.fix),
      task.config.trace,
    );
    this.waiter = new Waiter(this.cpu, task.config.stallMs, task.spinLimit);
    this.rng = new Rng(task.config.seed, task.cpu);
    this.spinsPerNs = calibrateSpin();
    this.delays = new Delays(task.config.delays, this.rng, this.spinsPerNs, this.cpu);
    // The adapter moves the two sides of the window apart or together
    // (src/run/adapt.ts): walkers' delays times the scale, the mutator's divided by it.
    if (task.config.adapt) {
      this.delays.followScale(this.mem.i32, CTL.delayScale, task.cpu === 0);
      this.delays.followSleep(this.mem.i32, CTL.delaySleep);
    }
  }

  /** Past the run's warm-up (RunConfig.warmMs): latency samples are taken from then on. */
  measuring(): boolean {
    return this.mem.load(CTL.measuring) !== 0;
  }

  flush(): void {
    this.waiter.beat();
    const mem = this.mem;
    const st = this.st;
    st[STAT.ipiTaken] = mem.load(mem.cpuA(this.cpu.id, CPU_A.ipiTaken));
    st[STAT.ipiBroadcasts] = this.cpu.ipiBroadcasts;
    for (let s = 0; s < STAT_COUNT; s++) {
      Atomics.store(mem.i64, mem.stat(this.cpu.id, s), BigInt(Math.round(st[s])));
    }
  }

  /** One GUP-fast call, timed every sampleEvery calls. */
  walk(w: unknown): void {
    const timed =
      this.sampleEvery > 0 && this.st[STAT.gupCalls] % this.sampleEvery === 0 && this.measuring();
    const t0 = timed ? performance.now() : 0;
    walkToEnd(this.cpu, this.walker, w, this.delays, this.waiter);
    if (timed) sample(this.samples.gupNs, (performance.now() - t0) * 1e6);
    this.st[STAT.gupCalls]++;
    this.st[STAT.pins] += this.walker.pages(w);
  }

  /** Run one mutator operation to its end; returns false if a wait for IPI acks was cut short. */
  operate(op: IpiWait, region: number, phase: number): boolean {
    const cpu = this.cpu;
    const m = this.mutator;
    const mem = this.mem;
    m.start(cpu, op, region, phase);
    if (m.done(op)) return true;
    const timed =
      phase === 0 &&
      this.sampleEvery > 0 &&
      this.st[STAT.mutatorOps] % this.sampleEvery === 0 &&
      this.measuring();
    const t0 = timed ? performance.now() : 0;
    let sent = cpu.ipiBroadcasts;
    let sentAt = 0;
    let awaiting = false;
    let waitedNs = 0;
    while (!m.done(op)) {
      const s = m.step(cpu, op);
      if (s === BLOCKED) {
        const w0 = performance.now();
        const waitingFor = m.waitingFor;
        const ok =
          waitingFor === undefined
            ? this.waiter.until(
                () => allAcked(mem, op),
                () => Math.max(0, firstUnacked(mem, op)),
                "IPI acks",
              )
            : this.waiter.until(
                () => waitingFor(mem, op) < 0,
                () => Math.max(0, waitingFor(mem, op)),
                "IPI acks or a grace period",
              );
        const ns = (performance.now() - w0) * 1e6;
        this.st[STAT.ipiWaitNs] += ns;
        waitedNs += ns;
        if (!ok) return false;
        continue;
      }
      if (cpu.ipiBroadcasts !== sent) {
        sent = cpu.ipiBroadcasts;
        sentAt = performance.now();
        awaiting = timed;
      } else if (awaiting && allAcked(mem, op)) {
        sample(this.samples.ipiWaitNs, (performance.now() - sentAt) * 1e6);
        awaiting = false;
      }
      this.delays.after(s);
    }
    if (timed) {
      sample(this.samples.collapseNs, (performance.now() - t0) * 1e6);
      sample(this.samples.opWaitNs, waitedNs);
    }
    const outcome = m.outcome(op);
    if (outcome >= 0) {
      this.st[STAT.mutatorOps]++;
      this.st[STAT_OUTCOME_BASE + outcome]++;
    }
    return true;
  }

  /** Count a verdict; the first race of the run is written to the first-race slot. */
  count(v: Verdict, w: unknown): void {
    this.st[STAT_OUTCOME_BASE + v.outcome]++;
    if (this.race[v.outcome]) {
      this.st[STAT.races]++;
      if (v.confirmed) this.st[STAT.confirmed]++;
      this.recordFirstRace(v, w);
    } else if (v.outcome === this.undeclaredOutcome && this.undeclared.length < 8) {
      this.undeclared.push(v.detail);
    }
  }

  /**
   * Grade a finished walk (pins still held), count it, unpin. A verdict that
   * waits for a mutator operation in flight is retried until the stall bound
   * when `wait`; otherwise it is a harness fault. Returns false to stop.
   */
  settle(w: unknown, wait: boolean): boolean {
    const mem = this.mem;
    const id = this.cpu.id;
    let v = this.walker.grade(mem, w, id);
    if (v.outcome < 0) {
      const ok =
        wait &&
        this.waiter.until(
          () => {
            v = this.walker.grade(mem, w, id);
            return v.outcome >= 0;
          },
          () => 0,
          "a mutator operation in flight to commit",
        );
      if (!ok) {
        if (!wait) {
          raiseFault(mem, FAULT_HARNESS, id, 0, 0);
          this.undeclared.push(
            `region ${this.walker.region(w)}: a mutator operation still in flight after the round`,
          );
        }
        return false;
      }
    }
    this.count(v, w);
    this.walker.release(this.cpu, w);
    return true;
  }

  /**
   * The first race this CPU saw sets its time; the first race of the run that
   * was traced takes the first-race slot, with its drawing.
   */
  recordFirstRace(v: Verdict, w: unknown): void {
    const mem = this.mem;
    if (this.st[STAT.firstRaceUs] === 0) {
      const startUs = Number(Atomics.load(mem.i64, mem.stat(0, STAT.startUs)));
      this.st[STAT.firstRaceUs] = Math.max(1, nowUs() - startUs);
      this.flush();
      if (this.config.untilRace) requestStop(mem, STOP_GRACEFUL);
    }
    if (this.walker.span(w)[0] < 0) {
      // Untraced: trace every trial from the next round on, until a race is drawn.
      if (mem.load(CTL.firstRaceTaken) === 0) mem.store(CTL.traceAll, 1);
      return;
    }
    if (Atomics.compareExchange(mem.i32, CTL.firstRaceTaken, 0, 1) !== 0) return;
    const region = this.walker.region(w);
    mem.store(CTL.firstRaceCpu, this.cpu.id);
    mem.store(CTL.firstRaceRegion, region);
    mem.store(CTL.firstRaceIndex, v.index);
    mem.store(CTL.firstRaceFrame, v.frame);
    mem.store(CTL.firstRaceConfirmed, v.confirmed ? 1 : 0);
    const entries = raceTrace(mem, this.scenario, this.cpu.id, region, this.walker.span(w));
    const n = Math.min(entries.length, FIRST_RACE_MAX_ENTRIES);
    for (let e = 0; e < n; e++) {
      const src = entries[e];
      for (let f = 0; f < TRACE_WORDS; f++) mem.store(mem.firstRace(e, f), src.fields[f]);
      mem.store(mem.firstRace(e, TRACE_WORDS), src.cpu);
    }
    mem.store(CTL.firstRaceEntries, n);
    this.flush();
  }

  /**
   * Lockstep traces one trial in TRACE_ONE_IN (the region rotates), so that
   * races are counted at untraced speed: the global step clock, a shared
   * counter every traced step of every CPU adds to, is most of a traced
   * trial's cost. Once a race is counted in an untraced trial before any was
   * drawn, every trial is traced (CTL.traceAll) until one is: the drawing is
   * of the first race or races. Every CPU decides from the same words, which
   * change only between rounds (a walker counts its races before it acks the
   * round). A run that stops at its first race traces every trial, so that
   * the race it stops at can be drawn.
   */
  traceTrial(round: number, region: number): void {
    const c = this.config;
    const mem = this.mem;
    const regions = mem.geo.regions;
    this.cpu.tracing =
      c.trace &&
      (c.untilRace ||
        regions === 1 ||
        ((round - 1) * regions + region) % TRACE_ONE_IN === 0 ||
        (mem.load(CTL.traceAll) !== 0 && mem.load(CTL.firstRaceTaken) === 0));
  }

  /**
   * Mark this CPU online and wait for all the others, warming the step code
   * on scratch memory meanwhile (`warmer`), one trial at a time.
   */
  attach(warmer: Warmer | null): boolean {
    const mem = this.mem;
    const online = mem.cpuA(this.cpu.id, CPU_A.online);
    mem.store(online, 1);
    // The main thread waits on it (stress.ts, nextOnline); the other CPUs on their doorbells.
    Atomics.notify(mem.i32, online);
    for (let c = 0; c < mem.geo.cpus; c++) kick(mem, c);
    if (warmer !== null) {
      while (firstOffline(mem) >= 0 && mem.load(CTL.stop) === 0 && warmer.more()) {
        warmer.run(warmer.done.trials + 1, Number.POSITIVE_INFINITY);
        this.waiter.beat();
      }
    }
    // One start-up bound for every CPU and the main thread (startupBoundMs);
    // a stop (Ctrl-C) while others are still starting ends the wait at once.
    const ok = this.waiter.until(
      () => firstOffline(mem) < 0 || mem.load(CTL.stop) !== 0,
      () => Math.max(0, firstOffline(mem)),
      "the other CPUs to come online",
      startupBoundMs(this.config),
      FAULT_STARTUP,
    );
    if (!ok || mem.load(CTL.stop) !== 0) return false;
    if (this.cpu.id === 0) {
      this.st[STAT.startUs] = nowUs();
      this.flush();
    }
    return ok;
  }
}

function firstOffline(mem: Memory): number {
  for (let c = 0; c < allCpus(mem.geo); c++)
    if (mem.load(mem.cpuA(c, CPU_A.online)) === 0) return c;
  return -1;
}

/**
 * The interleaving of a race: the walker's steps from its first to its last,
 * and every mutator operation on the same region that overlapped them, in
 * clock order.
 */
function raceTrace(
  mem: Memory,
  scenario: Scenario,
  walker: number,
  region: number,
  [from, to]: [number, number],
): RawEntry[] {
  const mine = readRing(mem, walker).filter(
    (e) => e.fields[TRACE.clock] >= from && e.fields[TRACE.clock] <= to,
  );
  const theirs = readRing(mem, 0).filter((e) => e.fields[TRACE.region] === region);
  // Cut the mutator's entries into operations at their first steps; keep those overlapping the walk.
  const kept: RawEntry[] = [];
  let op: RawEntry[] = [];
  const flushOp = () => {
    if (op.length === 0) return;
    const first = op[0].fields[TRACE.clock];
    const last = op[op.length - 1].fields[TRACE.clock];
    if (first <= to && last >= from) kept.push(...op);
    op = [];
  };
  for (const e of theirs) {
    if (scenario.opFirstSteps.includes(e.fields[TRACE.step])) flushOp();
    op.push(e);
  }
  flushOp();
  return [...mine, ...kept].sort((a, b) => a.fields[TRACE.clock] - b.fields[TRACE.clock]);
}

function kickAll(mem: Memory): void {
  for (let c = 1; c < mem.geo.cpus; c++) kick(mem, c);
}

// ---------------------------------------------------------------------------
// lockstep: rounds of `regions` independent trials. CPU 0 announces each
// region's trial and runs the mutator's operation on it; every CPU starts it
// after its own seeded random offset (litmus7's timebase mode). After the
// round, each walker grades its walks with the pins still held and unpins,
// and CPU 0 runs the follow-up operations (collapse: the split back).

function lockstepMutator(run: CpuRun): void {
  const mem = run.mem;
  const regions = mem.geo.regions;
  const iterations = run.config.iterations;
  const op = run.mutator.create(run.cpu);
  const st = run.st;
  for (let round = 1; ; round++) {
    const enough = iterations !== null && st[STAT.iterations] >= iterations;
    if (enough || mem.load(CTL.stop) !== 0) break;
    mem.store(CTL.roundOpen, round);
    kickAll(mem);
    for (let r = 0; r < regions; r++) {
      mem.store(mem.region(r, 1), round);
      kickAll(mem);
      if (run.trialBarrier) {
        // Start each trial together (jcstress's barrier): announce it, then
        // wait until every GUP CPU has seen it. A walker marks itself ready
        // only once it is awake and about to walk, so that a CPU that slept
        // (descheduled, or waiting) is running again before the operation
        // starts, not a wake-up later, when the operation is over.
        const trial = (round - 1) * regions + r + 1;
        const ready = run.waiter.until(
          () => notReady(mem, trial) < 0,
          () => Math.max(1, notReady(mem, trial)),
          "GUP CPUs to reach the next trial",
        );
        if (!ready) return;
      }
      run.traceTrial(round, r);
      run.delays.start(run.poll);
      if (!run.operate(op, r, 0)) return;
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
    for (let phase = 1; phase < run.scenario.phases; phase++) {
      for (let r = 0; r < regions; r++) {
        run.traceTrial(round, r);
        if (!run.operate(op, r, phase)) return;
      }
    }
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

function lockstepWalker(run: CpuRun): void {
  const mem = run.mem;
  const { regions, ptes } = mem.geo;
  const walks = Array.from({ length: regions }, () => run.walker.create(ptes));
  const id = run.cpu.id;
  for (let round = 1; ; round++) {
    const open = run.waiter.until(
      () => mem.load(CTL.roundOpen) >= round || mem.load(CTL.closed) !== 0,
      () => 0,
      "CPU 0 to open a round",
    );
    if (!open || mem.load(CTL.roundOpen) < round) return;
    for (let r = 0; r < regions; r++) {
      const announced = run.waiter.until(
        () => mem.load(mem.region(r, 1)) >= round,
        () => 0,
        "CPU 0 to announce a trial",
      );
      if (!announced) return;
      if (run.trialBarrier) {
        mem.store(mem.cpuA(id, CPU_A.ready), (round - 1) * regions + r + 1);
        kick(mem, 0);
      }
      const [first, count] = run.config.range ?? pickRange(run.rng, ptes);
      run.traceTrial(round, r);
      run.delays.start(run.poll);
      run.walker.start(walks[r], r, first, count);
      run.walk(walks[r]);
      injectFault(run.config.fault, run.cpu, round);
    }
    const done = run.waiter.until(
      () => mem.load(CTL.roundDone) >= round,
      () => 0,
      "CPU 0 to finish the round's operations",
    );
    if (!done) return;
    for (let r = 0; r < regions; r++) if (!run.settle(walks[r], false)) return;
    run.flush();
    mem.store(mem.cpuA(id, CPU_A.roundAck), round);
    kick(mem, 0);
  }
}

// ---------------------------------------------------------------------------
// freerun: CPUs loop like real CPUs. The mutator walks the regions over and
// over, each visit the next of its operations on that region (collapse, then
// split, ...); walkers pin random ranges and hold the pins for a few more
// calls before grading and unpinning.

function freerunMutator(run: CpuRun): void {
  const mem = run.mem;
  const regions = mem.geo.regions;
  const phases = run.scenario.phases;
  const visits = new Int32Array(regions);
  const op = run.mutator.create(run.cpu);
  for (let r = 0, ops = 0; mem.load(CTL.stop) === 0; r = (r + 1) % regions, ops++) {
    run.delays.start(run.poll);
    if (!run.operate(op, r, visits[r]++ % phases)) return;
    run.waiter.serviceIpis();
    if ((ops & 63) === 0) {
      run.flush();
      injectFault(run.config.fault, run.cpu, ops);
    }
  }
  mem.store(CTL.closed, 1);
  kickAll(mem);
}

function freerunWalker(run: CpuRun): void {
  const mem = run.mem;
  const { regions, ptes } = mem.geo;
  const hold = run.config.holdPins;
  const ring = Array.from({ length: hold + 1 }, () => run.walker.create(ptes));
  let head = 0;
  let held = 0;
  const st = run.st;
  const release = (w: unknown): boolean => {
    if (!run.settle(w, true)) return false;
    st[STAT.iterations]++;
    return true;
  };
  for (let ops = 0; mem.load(CTL.stop) === 0; ops++) {
    const w = ring[head];
    head = (head + 1) % ring.length;
    const r = run.rng.below(regions);
    const first = run.rng.below(ptes);
    run.delays.start(run.poll);
    run.walker.start(w, r, first, 1 + run.rng.below(ptes - first));
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
  // Keep answering IPIs until the mutator has left: it may be waiting for our ack.
  run.waiter.until(
    () => mem.load(CTL.closed) !== 0,
    () => 0,
    "CPU 0 to finish its last operation",
  );
}

// ---------------------------------------------------------------------------
// a bystander: never walks this mm; stretches with interrupts off on
// unrelated work, as long again with them on (taking IPIs), until the
// mutator has left (it may be waiting for our ack).

function bystander(run: CpuRun): void {
  const mem = run.mem;
  const cpu = run.cpu;
  cpu.tracing = false;
  const spins = (run.config.bystanderOffNs ?? BYSTANDER_OFF_NS) * run.spinsPerNs;
  // A graceful stop lets the mutator finish its round: keep answering until it has left.
  for (let k = 0; mem.load(CTL.closed) === 0 && mem.load(CTL.stop) !== STOP_ABORT; k++) {
    bystanderStep(cpu, 0);
    spin(spins);
    bystanderStep(cpu, 1);
    run.waiter.serviceIpis();
    for (let s = 0; s < spins; s += 256) {
      spin(256);
      run.waiter.serviceIpis();
    }
    if ((k & 63) === 0) run.flush();
  }
}

/** A run whose start-up primeStartup compiles: its config (any fix) and geometry. */
export interface PrimeRun {
  config: RunConfig;
  geo: Geometry;
}

/**
 * What a CPU's start-up runs, for every run given, under every fix of its
 * scenario, traced and not: the scenario's module, a walker's CpuRun (spin
 * calibration included) on memory of its own, and the warm-up's trials. The
 * build runs it in a fresh thread before it takes the bundle's code cache
 * (scripts/code-cache.mjs), so that the cache holds this code compiled. Not
 * part of a run; returns the warm-up trials it ran.
 */
export async function primeStartup(runs: readonly PrimeRun[]): Promise<number> {
  let trials = 0;
  for (const { config, geo } of runs) {
    const scenario = await loadScenario(config.scenario);
    for (const { name } of scenario.fixes)
      for (const trace of [false, true]) {
        const c = { ...config, fix: name, trace };
        const sab = new Memory(geo).sab;
        const task = { sab, geo, cpu: 1, config: c, spinLimit: 64, trialBarrier: true, idleMs: 0 };
        const run = new CpuRun(task, scenario);
        trials += warmUp(scenario, run.cpu.fix, geo, trace, c.seed).trials;
      }
  }
  return trials;
}

/** What this thread has warmed: scenario/fix/tracing (src/run/warmup.ts). */
const warmThreads = new Set<string>();

/** The body of one worker: load its scenario, attach, run the role, flush, report. */
export async function runCpu(task: CpuTask): Promise<CpuReport> {
  const t0 = performance.now();
  Atomics.add(new Int32Array(task.sab, 0, CTL.started + 1), CTL.started, 1);
  // Before the warm-up: the step code then runs V8's baseline tier, not TurboFan's compile threads.
  // V8's flags are the process's: CPU 0 sets them; the others need not load node:v8 (4 ms).
  const eager = task.config.eagerJit === true;
  const later = task.jitWhenAllStarted === true;
  let jitFlags = eager || task.cpu !== 0 || later ? null : delayTurbofan();
  const run = new CpuRun(task, await loadScenario(task.config.scenario));
  const mem = run.mem;
  let startupMs = 0;
  let warmer: Warmer | null = null;
  try {
    if (later && task.cpu !== 0) kick(mem, 0);
    else if (later && !eager) {
      // Asleep meanwhile, it leaves the cores to the threads still starting.
      run.waiter.until(
        () => mem.load(CTL.started) >= allCpus(task.geo) || mem.load(CTL.stop) !== 0,
        () => Math.max(0, firstOffline(mem)),
        "the other CPUs' threads to start",
        startupBoundMs(task.config),
        FAULT_STARTUP,
      );
      jitFlags = delayTurbofan();
    }
    // A bystander runs no step code of the scenario; a thread of a warm pool
    // that ran this scenario and fix before has compiled it already.
    const key = `${task.config.scenario}/${task.config.fix}/${task.config.trace}`;
    if (task.cpu < task.geo.cpus && !warmThreads.has(key)) {
      const c = task.config;
      warmer = new Warmer(run.scenario, run.cpu.fix, task.geo, c.trace, c.seed);
      warmer.run(WARMUP_TRIALS, WARMUP_MS);
    }
    const online = run.attach(task.warmWhileWaiting === false ? null : warmer);
    if (warmer !== null && warmer.done.trials >= WARMUP_TRIALS) warmThreads.add(key);
    if (online) {
      startupMs = performance.now() - t0;
      const lockstep = task.config.mode === "lockstep";
      if (task.cpu >= task.geo.cpus) bystander(run);
      else if (task.cpu === 0) (lockstep ? lockstepMutator : freerunMutator)(run);
      else (lockstep ? lockstepWalker : freerunWalker)(run);
    }
  } catch (e) {
    run.flush();
    raiseFault(mem, FAULT_CRASH, task.cpu, task.cpu, mem.load(mem.cpuA(task.cpu, CPU_A.lastStep)));
    throw e;
  }
  run.flush();
  return {
    cpu: task.cpu,
    role: task.cpu >= task.geo.cpus ? "bystander" : roleOf(task.cpu),
    undeclared: run.undeclared,
    spinsPerNs: run.spinsPerNs,
    sleptDelays: run.delays.slept,
    warmUp: warmer?.done ?? { trials: 0, ms: 0 },
    jitFlags,
    startupMs,
    samples: run.samples,
  };
}
