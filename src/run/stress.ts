// The main thread's side of a stress run: lay out the shared page table, start
// one worker per CPU on a piscina pool, watch progress, time limits, faults
// and Ctrl-C, and gather what the CPUs counted into one result.

import { existsSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { Piscina } from "piscina";
import { stepName } from "../kernel/steps.js";
import { decodeTraceStep, roleOf, type TraceStep } from "../kernel/trace.js";
import {
  allCpus,
  CPU_A,
  CTL,
  FAULT_CRASH,
  FAULT_NONE,
  FAULT_STALL,
  FAULT_STARTUP,
  type Geometry,
  MAX_PMD_ID,
  Memory,
  STAT,
  STAT_COUNT,
  STAT_OUTCOME_BASE,
  STOP_ABORT,
  TRACE_WORDS,
} from "../memory/layout.js";
import { scenarioByName } from "../scenarios/index.js";
import type { Grade, OutcomeTag, Scenario } from "../scenarios/scenario.js";
import { type Calibration, DelayAdapter } from "./adapt.js";
import { BoundClock } from "./bound-clock.js";
import { type RunConfig, runCpus, startupBoundMs } from "./config.js";
import type { CodeCacheUse, CpuReport, CpuTask, LatencySamples } from "./driver.js";
import { type Environment, environment } from "./environment.js";
import { raiseFault, requestStop } from "./wait.js";

export type { TraceStep } from "../kernel/trace.js";

export interface FirstRace {
  trace: TraceStep[];
  frame: number;
  region: number;
  index: number;
  cpu: number;
  confirmed: boolean;
}

export interface StressResult {
  scenario: string;
  fix: string;
  mode: string;
  cpus: number;
  seed: number;
  regions: number;
  ptes: number;
  durationMs: number;
  /** lockstep: region trials; freerun: GUP-fast calls graded */
  iterations: number;
  iterationsPerSec: number;
  gupCalls: number;
  pins: number;
  /** walks that backed off after a re-check (outcomes tagged backoff) */
  backoffs: number;
  /** walks sent to the slow path (outcomes tagged fallback) */
  fallbacks: number;
  /** the mutator's operations: trial operations committed or aborted, follow-ups */
  mutatorOps: { total: number; committed: number; aborted: number; followUps: number };
  ipi: { broadcasts: number; handlerEntries: number; waitUsTotal: number };
  races: number;
  confirmed: number;
  racesPerMillion: number;
  /** 95% upper bound on the race probability per iteration when none was seen (3/N) */
  upperBound: number | null;
  firstRaceMs: number | null;
  outcomes: Record<string, { count: number; grade: Grade; text: string; tag: OutcomeTag }>;
  /** outcomes that show the race window was reached (the scenario's window outcomes) */
  windowHits: number;
  undeclared: string[];
  firstRace: FirstRace | null;
  /** milliseconds from the pool's creation until CPU 0 saw every CPU online (its stamp; each CPU's warm-up included) */
  startupMs: number;
  /** null for a run that ended normally, else why it ended early */
  aborted: string | null;
  /** SIGINT / SIGTERM when the user stopped the run */
  interrupted: string | null;
  faults: CpuFault[];
  delays: RunConfig["delays"];
  /**
   * The window's calibration: the walkers' delay scale the adapter chose, what
   * it measured (null with --no-adapt or no delays), each CPU's spin unit, and
   * the 1-minute load average before and after the run
   */
  calibration: {
    adapt: (Calibration & { hitsPerThousand: number }) | null;
    spinsPerNs: number[];
    /** each CPU's random delays that slept instead of spinning (the adapter's sleeping delays, and one host preemption in four) */
    sleptDelays: number[];
    /** each CPU's JIT warm-up on scratch memory before it came online: trials, milliseconds */
    warmUp: { trials: number; ms: number }[];
    /** each CPU's use of the build's code cache (workers/cpu-entry.cts, CodeCacheUse) */
    codeCache: CodeCacheUse[];
    /** the V8 flags the CPUs set to delay TurboFan (src/run/jit.ts), or null: V8's defaults (--eager-jit) */
    jitFlags: string[] | null;
    load: { before: number; after: number };
  };
  /** latency samples from every CPU (only when config.sampleEvery > 0; not printed by --json) */
  samples?: LatencySamples;
  environment: Environment;
}

export interface CpuFault {
  cpu: number;
  role: string;
  kind: "stall" | "crash";
  message: string;
  lastStep: string;
  stack?: string;
}

export interface Progress {
  elapsedMs: number;
  iterations: number;
  gupCalls: number;
  races: number;
}

export interface StressHooks {
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
  /** aborting it stops the run gracefully (Ctrl-C) */
  signal?: AbortSignal;
  /**
   * A warm pool (from `cpuPool`) to run on instead of starting one: the
   * benchmarks reuse one across runs. It needs at least config.cpus threads;
   * it stays up after a run that ended cleanly, and is destroyed after one
   * that left a CPU hung.
   */
  pool?: Piscina;
}

/** A pool of `threads` CPU workers, for StressHooks.pool. */
export function cpuPool(threads: number, startNow = true): Piscina {
  return new Piscina({
    filename: workerFile(),
    // A pool for one run starts its threads as its tasks arrive, so that the
    // main thread hears Ctrl-C between two (64 threads block it for seconds).
    minThreads: startNow ? threads : 0,
    maxThreads: threads,
    idleTimeout: Number.POSITIVE_INFINITY,
    concurrentTasksPerWorker: 1,
  });
}

/**
 * The CPU worker: its CommonJS build (tsconfig.cjs.json says why) as one file
 * with V8's code cache (workers/cpu-entry.cts), whether we run from src/
 * (vitest) or dist/.
 */
export function workerFile(): string {
  return distFile("workers/cpu-entry.cjs");
}

/** A compiled file under dist/, found from src/ (vitest) or dist/ alike. */
export function distFile(path: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) break;
    dir = dirname(dir);
  }
  const file = join(dir, "dist", path);
  if (!existsSync(file)) throw new Error(`${file} is missing: run 'npm run build' first`);
  return file;
}

export function geometryFor(config: RunConfig): Geometry {
  // Lockstep unpins every walk before the round's follow-ups; freerun holds walks across operations.
  const heldWalks = config.mode === "freerun" ? config.holdPins + 2 : 0;
  const scenario = scenarioByName(config.scenario);
  return {
    cpus: config.cpus,
    regions: config.regions,
    ptes: config.ptes,
    frames: scenario.frames({ ...config, heldWalks }),
    tables: scenario.tables?.(config),
    bystanders: config.bystanders,
    traceRing: config.trace ? 4096 : 16,
    mutatorRing: config.trace ? 65_536 : 16,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A CPU whose worker was never started: the run was stopped while the others started. */
const NOT_STARTED = new Error("not started: the run was stopped while the CPUs started");

/** Past its time, a run with `evidence` goes on (up to the cap) while it has no race and too few window hits. */
function lacksEvidence(
  mem: Memory,
  scenario: Scenario,
  config: RunConfig,
  elapsed: number,
): boolean {
  const e = config.evidence;
  if (e === undefined || elapsed >= e.capMs) return false;
  let hits = 0;
  let races = 0;
  scenario.outcomes.forEach((o, i) => {
    const n = mem.statTotal(STAT_OUTCOME_BASE + i);
    if (o.window) hits += n;
    if (o.grade === "FORBIDDEN") races += n;
  });
  return races === 0 && hits < e.minWindowHits;
}

export async function runStress(config: RunConfig, hooks: StressHooks = {}): Promise<StressResult> {
  const geo = geometryFor(config);
  if (geo.frames > MAX_PMD_ID)
    throw new Error(`${geo.frames} frames: a pmd names at most ${MAX_PMD_ID}`);
  const scenario = scenarioByName(config.scenario);
  const mem = new Memory(geo);
  scenario.setup(mem);
  const warmMs = config.warmMs ?? 0;
  // Without a warm-up, the CPUs sample from the start.
  if (warmMs <= 0) mem.store(CTL.measuring, 1);
  // The totals when the warm-up ended, taken off the run's counts; and when.
  let base: number[] | null = null;
  let measuredFrom = 0;
  const loadBefore = loadavg()[0];
  const adapter =
    config.adapt && config.delays.some((d) => d.nth === undefined && d.maxNs > 0 && d.prob > 0)
      ? new DelayAdapter(mem, scenario)
      : null;
  const t0 = performance.now();
  const clock = new BoundClock(t0);
  const nCpus = runCpus(config);
  if (hooks.pool && hooks.pool.options.maxThreads < nCpus) {
    const threads = hooks.pool.options.maxThreads;
    throw new Error(`the pool has ${threads} threads, the run needs ${nCpus}`);
  }
  const pool = hooks.pool ?? cpuPool(nCpus, false);
  const oversubscribed = nCpus > availableParallelism();
  const spinLimit = oversubscribed ? 64 : 20_000;
  const settled: (CpuReport | Error | undefined)[] = new Array(nCpus).fill(undefined);
  let terminating = false;
  let interrupted: string | null = null;
  // Ctrl-C's bound is the user's: wall time, not the pause-aware clock.
  let interruptedAt = 0;
  const onAbort = () => {
    interrupted = String(hooks.signal?.reason ?? "SIGINT");
    interruptedAt = performance.now();
    requestStop(mem);
  };
  hooks.signal?.addEventListener("abort", onAbort, { once: true });
  if (hooks.signal?.aborted) onAbort();
  const start = (cpu: number): Promise<void> => {
    const task: CpuTask = {
      sab: mem.sab,
      geo,
      cpu,
      config,
      spinLimit,
      // Oversubscribed, a trial without the barrier overlaps nothing: --no-barrier applies on spare cores only.
      trialBarrier: config.trialBarrier !== false || oversubscribed,
      idleMs: oversubscribed ? (0.2 * config.cpus) / availableParallelism() : 0,
      // Only with a core to spare beside the CPUs and the main thread: on 2
      // cores the start-up is bound by CPU time (about 170 ms of it in 95 ms),
      // and a CPU warming while the other starts takes it from that one.
      // Measured, 30 cold runs each side by side, twice: startup median 97.5
      // -> 93.7 ms and 99.9 -> 98.9 ms; first race p50 unchanged (4.6 to 5.2 ms).
      warmWhileWaiting: nCpus + 1 < availableParallelism(),
      // Measured with CPUs outnumbering the 2 cores, cold runs side by side:
      // startupMs median 320 -> 309 and 249 -> 237 ms at 8 CPUs (10 runs
      // each), 1217 -> 1193 ms at 32 (5 each), 2507 -> 2338 ms at 64 (4 each).
      jitWhenAllStarted: oversubscribed,
    };
    return pool.run(task).then(
      (r: CpuReport) => {
        settled[cpu] = r;
      },
      (e: unknown) => {
        // Workers we terminated ourselves (hung CPUs) are reported as hung, not crashed.
        if (terminating) return;
        settled[cpu] = e instanceof Error ? e : new Error(String(e));
        raiseFault(mem, FAULT_CRASH, cpu, cpu, mem.load(mem.cpuA(cpu, CPU_A.lastStep)));
      },
    );
  };
  // One worker at a time, with a turn of the event loop between two: a stop
  // (Ctrl-C) while they start leaves the rest unstarted, reported as such.
  const tasks: Promise<void>[] = [];
  for (let cpu = 0; cpu < nCpus; cpu++) {
    if (interrupted !== null) {
      settled[cpu] = NOT_STARTED;
      continue;
    }
    tasks.push(start(cpu));
    if (hooks.pool === undefined) await new Promise<void>((r) => setImmediate(r));
  }
  const all = Promise.all(tasks);
  let allDone = false;
  all.then(() => {
    allDone = true;
  });

  let startedAt = 0;
  let stopAskedAt = 0;
  let lastProgress = 0;
  const progressEvery = hooks.progressEveryMs ?? 250;
  let hungCpus: number[] = [];
  // A little later than the CPUs' own waits, whose reports say who waited for whom.
  const watchdog = new Watchdog(mem, config.stallMs * 1.25 + 100, settled);
  while (!allDone) {
    // Until every CPU is online (the run's clock starts then), woken by each
    // CPU as it comes online; every ten milliseconds after. Polling every
    // millisecond instead took CPU time from the starting CPUs: startupMs
    // median 100.0 -> 95.5 ms with this wait (20 cold runs each).
    await (startedAt === 0 ? nextOnline(mem, 10) : sleep(10));
    // Every bound below counts time the process ran, not wall time: Ctrl-Z
    // then fg (or kill -STOP / -CONT) is not a stuck CPU (src/run/bound-clock.ts).
    const now = clock.tick();
    if (startedAt === 0 && allOnline(mem)) startedAt = Math.max(now, 0.001);
    const elapsed = startedAt === 0 ? 0 : now - startedAt;
    if (stopAskedAt === 0) {
      const overTime =
        config.timeMs !== null &&
        startedAt !== 0 &&
        elapsed >= config.timeMs &&
        !lacksEvidence(mem, scenario, config, elapsed);
      const overCount =
        config.mode === "freerun" &&
        config.iterations !== null &&
        mem.statTotal(STAT.iterations) >= config.iterations;
      if (overTime || overCount) requestStop(mem);
      if (mem.load(CTL.stop) !== 0) stopAskedAt = now;
    }
    // The CPUs' own start-up bound, and a second for them to report it.
    if (startedAt === 0 && now > startupBoundMs(config) + 1000) {
      raiseFault(mem, FAULT_STARTUP, -1, Math.max(0, firstOffline(mem)), 0);
      stopAskedAt = stopAskedAt || now;
    }
    if (base === null && startedAt !== 0 && warmMs > 0 && now - startedAt >= warmMs) {
      base = Array.from({ length: STAT_COUNT }, (_, s) => mem.statTotal(s));
      measuredFrom = now;
      mem.store(CTL.measuring, 1);
    }
    if (startedAt !== 0 && stopAskedAt === 0) {
      adapter?.tick(now);
      const stuck = watchdog.check(now);
      if (stuck >= 0) {
        raiseFault(mem, FAULT_STALL, -1, stuck, 0);
        stopAskedAt = now;
      }
    }
    // A CPU that does not leave after a stop (or after a fault) within the bound is hung.
    // After a fault the others have been told to leave at once: half a second is plenty.
    // After a Ctrl-C too: the user asked to stop within a second. A worker
    // still loading its modules gets a little longer to come online and leave:
    // terminating one mid-load can abort the whole process.
    const loading =
      interrupted !== null && settled.some((x, c) => x === undefined && !isOnline(mem, c));
    const grace =
      mem.load(CTL.faultKind) !== FAULT_NONE || interrupted !== null
        ? loading
          ? 500
          : 300
        : config.stallMs + 1000;
    const overdue =
      interrupted !== null
        ? performance.now() - interruptedAt > grace
        : stopAskedAt !== 0 && now - stopAskedAt > grace;
    if (overdue) {
      // After a Ctrl-C, a worker that never came online was still starting: not started, not hung.
      if (interrupted !== null) {
        // Before every CPU was online, none of them had started the run.
        settled.forEach((x, c) => {
          if (x === undefined && (startedAt === 0 || !isOnline(mem, c))) settled[c] = NOT_STARTED;
        });
      }
      hungCpus = settled.flatMap((s, c) => (s === undefined ? [c] : []));
      if (mem.load(CTL.faultKind) === FAULT_NONE && hungCpus.length > 0) {
        // Name the one spinning with interrupts off, if any: the others wait for it.
        const irqOff = hungCpus.find((c) => (mem.load(mem.cpuA(c, CPU_A.irq)) & 1) === 1);
        raiseFault(mem, FAULT_STALL, -1, irqOff ?? hungCpus[0] ?? 0, 0);
      }
      requestStop(mem, STOP_ABORT);
      break;
    }
    if (hooks.onProgress && now - lastProgress >= progressEvery) {
      lastProgress = now;
      hooks.onProgress(progress(mem, elapsed));
    }
  }
  // A run that ended within its warm-up counts from its start (base is still null then).
  const durationMs =
    startedAt === 0 ? 0 : clock.tick() - (measuredFrom !== 0 ? measuredFrom : startedAt);
  hooks.signal?.removeEventListener("abort", onAbort);
  // A warm pool (hooks.pool) stays up for the next run, unless a CPU hung in it.
  if (!allDone) {
    terminating = true;
    await Promise.race([pool.destroy(), sleep(300)]);
  } else if (!hooks.pool) await pool.destroy();

  const reports = settled.filter((s): s is CpuReport => s !== undefined && !(s instanceof Error));
  const faults = collectFaults(mem, scenario, config, settled, hungCpus);
  // CPU 0 stamps the moment it saw every CPU online (STAT.startUs, wall
  // clock in microseconds): start-up to the microsecond, not to this loop's tick.
  const startUs = Number(Atomics.load(mem.i64, mem.stat(0, STAT.startUs)));
  const startupMs =
    startedAt !== 0 && startUs > 0 ? startUs / 1000 - (performance.timeOrigin + t0) : startedAt;
  return buildResult(config, scenario, mem, {
    durationMs,
    startupMs,
    reports,
    faults,
    interrupted,
    adapt: adapter?.result() ?? null,
    loadBefore,
    base,
  });
}

/**
 * Every CPU bumps its heartbeat while it works and while it waits. One whose
 * heartbeat stands still for the stall bound is stuck: spinning with
 * interrupts off, or its thread is gone.
 */
class Watchdog {
  private readonly seen: Int32Array;
  private readonly since: Float64Array;
  constructor(
    private readonly mem: Memory,
    private readonly stallMs: number,
    private readonly settled: readonly unknown[],
  ) {
    this.seen = new Int32Array(mem.geo.cpus).fill(-1);
    this.since = new Float64Array(mem.geo.cpus);
  }
  /** The first stuck CPU, or -1. */
  check(now: number): number {
    for (let c = 0; c < this.mem.geo.cpus; c++) {
      if (this.settled[c] !== undefined) continue;
      const beat = this.mem.load(this.mem.cpuA(c, CPU_A.heartbeat));
      if (beat !== this.seen[c]) {
        this.seen[c] = beat;
        this.since[c] = now;
      } else if (now - this.since[c] > this.stallMs) return c;
    }
    return -1;
  }
}

/**
 * Atomics.waitAsync: in Node since 16, but ES2024, and the lib stays ES2022
 * so that what Node 20 lacks (Promise.withResolvers) does not type-check.
 */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: unknown };
  }
).waitAsync;

/** Until the first CPU not yet online comes online (attach() notifies its word), or `ms`. */
function nextOnline(mem: Memory, ms: number): Promise<void> {
  const c = firstOffline(mem);
  if (c < 0) return Promise.resolve();
  const w = waitAsync(mem.i32, mem.cpuA(c, CPU_A.online), 0, ms);
  if (!w.async) return Promise.resolve();
  // A pending waitAsync is not a handle of Node's event loop: with nothing
  // else pending (a run stopped before its CPUs started) Node 24 exited in
  // the middle of this wait, and `bench --quick` cut by Ctrl-C there exited 0
  // (6 of 16 cuts). A timer beside it keeps the loop alive.
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    (w.value as Promise<string>).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function allOnline(mem: Memory): boolean {
  return firstOffline(mem) < 0;
}

function isOnline(mem: Memory, c: number): boolean {
  return mem.load(mem.cpuA(c, CPU_A.online)) !== 0;
}

function firstOffline(mem: Memory): number {
  for (let c = 0; c < allCpus(mem.geo); c++)
    if (mem.load(mem.cpuA(c, CPU_A.online)) === 0) return c;
  return -1;
}

function progress(mem: Memory, elapsedMs: number): Progress {
  return {
    elapsedMs,
    iterations: mem.statTotal(STAT.iterations),
    gupCalls: mem.statTotal(STAT.gupCalls),
    races: mem.statTotal(STAT.races),
  };
}

function lastStepOf(mem: Memory, cpu: number): string {
  const s = mem.load(mem.cpuA(cpu, CPU_A.lastStep));
  return s === 0 ? "none" : stepName(s);
}

function collectFaults(
  mem: Memory,
  scenario: Scenario,
  config: RunConfig,
  settled: (CpuReport | Error | undefined)[],
  hung: number[],
): CpuFault[] {
  const faults: CpuFault[] = [];
  const roleOf = (cpu: number) => (cpu >= config.cpus ? "bystander" : roleName(scenario, cpu));
  settled.forEach((s, cpu) => {
    if (s instanceof Error && s !== NOT_STARTED) {
      faults.push({
        cpu,
        role: roleOf(cpu),
        kind: "crash",
        message: s.message,
        lastStep: lastStepOf(mem, cpu),
        stack: s.stack,
      });
    }
  });
  const kind = mem.load(CTL.faultKind);
  if (kind === FAULT_STARTUP) {
    const peer = mem.load(CTL.faultPeer);
    const bound = (startupBoundMs(config) / 1000).toFixed(1);
    faults.push({
      cpu: peer,
      role: roleOf(peer),
      kind: "stall",
      message: `CPU ${peer} (${roleOf(peer)}) did not come online within ${bound} s (the start-up bound: --stall-ms + 0.5 s per CPU)`,
      lastStep: "none yet",
    });
  }
  if (kind === FAULT_STALL) {
    const peer = mem.load(CTL.faultPeer);
    const by = mem.load(CTL.faultCpu);
    const irqOff = (mem.load(mem.cpuA(peer, CPU_A.irq)) & 1) === 1;
    faults.push({
      cpu: peer,
      role: roleOf(peer),
      kind: "stall",
      message:
        by >= 0
          ? `CPU ${peer} (${roleOf(peer)}) did not answer CPU ${by} within the stall bound${irqOff ? " (interrupts off)" : ""}`
          : `CPU ${peer} (${roleOf(peer)}) stopped answering: no progress within the stall bound${irqOff ? " (interrupts off)" : ""}`,
      lastStep: lastStepOf(mem, peer),
    });
  }
  for (const cpu of hung) {
    if (faults.some((f) => f.cpu === cpu)) continue;
    faults.push({
      cpu,
      role: roleOf(cpu),
      kind: "stall",
      message: `CPU ${cpu} (${roleOf(cpu)}) never returned after the stop`,
      lastStep: lastStepOf(mem, cpu),
    });
  }
  return faults;
}

function readFirstRace(mem: Memory): FirstRace | null {
  if (mem.load(CTL.firstRaceTaken) === 0) return null;
  const n = mem.load(CTL.firstRaceEntries);
  const trace: TraceStep[] = [];
  for (let e = 0; e < n; e++) {
    const f = (k: number) => mem.load(mem.firstRace(e, k));
    trace.push(decodeTraceStep(f(TRACE_WORDS), f));
  }
  return {
    trace,
    frame: mem.load(CTL.firstRaceFrame),
    region: mem.load(CTL.firstRaceRegion),
    index: mem.load(CTL.firstRaceIndex),
    cpu: mem.load(CTL.firstRaceCpu),
    confirmed: mem.load(CTL.firstRaceConfirmed) === 1,
  };
}

interface Gathered {
  durationMs: number;
  startupMs: number;
  reports: CpuReport[];
  faults: CpuFault[];
  interrupted: string | null;
  adapt: Calibration | null;
  loadBefore: number;
  /** every STAT's total when the warm-up ended (RunConfig.warmMs), taken off the counts; null: none */
  base: number[] | null;
}

/** A CPU's role as the scenario names it ("THP collapse", "GUP-fast"). */
export function roleName(scenario: Scenario, cpu: number): string {
  return roleOf(cpu) === "mutator" ? scenario.roles.mutator : scenario.roles.walker;
}

function buildResult(
  config: RunConfig,
  scenario: Scenario,
  mem: Memory,
  g: Gathered,
): StressResult {
  const total = (s: number) => mem.statTotal(s) - (g.base?.[s] ?? 0);
  const iterations = total(STAT.iterations);
  const races = total(STAT.races);
  const outcomes: StressResult["outcomes"] = {};
  const tagged = (tag: OutcomeTag, actor?: string) =>
    scenario.outcomes.reduce(
      (n, o, i) =>
        o.tag === tag && (actor === undefined || o.actor === actor)
          ? n + total(STAT_OUTCOME_BASE + i)
          : n,
      0,
    );
  let windowHits = 0;
  scenario.outcomes.forEach((o, i) => {
    const count = total(STAT_OUTCOME_BASE + i);
    outcomes[o.key] = { count, grade: o.grade, text: o.text, tag: o.tag };
    if (o.window) windowHits += count;
  });
  const firstRace = readFirstRace(mem);
  // The first race any CPU saw (traced or not): the earliest of their times.
  let firstRaceUs = 0;
  for (let c = 0; c < mem.geo.cpus; c++) {
    const us = Number(Atomics.load(mem.i64, mem.stat(c, STAT.firstRaceUs)));
    if (us > 0 && (firstRaceUs === 0 || us < firstRaceUs)) firstRaceUs = us;
  }
  const faultKind = mem.load(CTL.faultKind);
  const aborted =
    faultKind === FAULT_NONE
      ? null
      : g.faults.length > 0
        ? g.faults.map((f) => `CPU ${f.cpu} (${f.role}) ${f.kind}: ${f.message}`).join("; ")
        : "harness fault";
  return {
    scenario: scenario.name,
    fix: config.fix,
    mode: config.mode,
    cpus: config.cpus,
    seed: config.seed,
    regions: config.regions,
    ptes: config.ptes,
    durationMs: round(g.durationMs),
    iterations,
    iterationsPerSec: g.durationMs > 0 ? Math.round((iterations / g.durationMs) * 1000) : 0,
    gupCalls: total(STAT.gupCalls),
    pins: total(STAT.pins),
    backoffs: tagged("backoff"),
    fallbacks: tagged("fallback"),
    mutatorOps: {
      total: total(STAT.mutatorOps),
      committed: tagged("committed", "mutator"),
      aborted: tagged("aborted", "mutator"),
      followUps: tagged("follow-up", "mutator"),
    },
    ipi: {
      broadcasts: total(STAT.ipiBroadcasts),
      handlerEntries: total(STAT.ipiTaken),
      waitUsTotal: round(total(STAT.ipiWaitNs) / 1000),
    },
    races,
    confirmed: total(STAT.confirmed),
    racesPerMillion: iterations > 0 ? round((races / iterations) * 1e6) : 0,
    upperBound: races === 0 && iterations > 0 ? 3 / iterations : null,
    firstRaceMs: firstRaceUs > 0 ? round(firstRaceUs / 1000) : null,
    outcomes,
    windowHits,
    undeclared: g.reports.flatMap((r) => r.undeclared),
    firstRace,
    startupMs: round(g.startupMs),
    aborted,
    interrupted: g.interrupted,
    faults: g.faults,
    delays: config.delays,
    calibration: {
      adapt:
        g.adapt === null
          ? null
          : { ...g.adapt, rate: round(g.adapt.rate), hitsPerThousand: round(g.adapt.rate * 1000) },
      spinsPerNs: g.reports.map((r) => round(r.spinsPerNs)),
      sleptDelays: g.reports.map((r) => r.sleptDelays),
      warmUp: g.reports.map((r) => ({ trials: r.warmUp.trials, ms: round(r.warmUp.ms) })),
      codeCache: g.reports.map((r) => r.codeCache ?? "no bundle"),
      jitFlags: g.reports.find((r) => r.jitFlags !== null)?.jitFlags ?? null,
      load: { before: round(g.loadBefore), after: round(loadavg()[0]) },
    },
    samples:
      config.sampleEvery > 0
        ? {
            gupNs: g.reports.flatMap((r) => r.samples.gupNs),
            collapseNs: g.reports.flatMap((r) => r.samples.collapseNs),
            ipiWaitNs: g.reports.flatMap((r) => r.samples.ipiWaitNs),
            opWaitNs: g.reports.flatMap((r) => r.samples.opWaitNs),
          }
        : undefined,
    environment: environment(),
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
