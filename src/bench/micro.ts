// The floor: one GUP-fast walk as the fewest Atomics operations that can do
// it, against the same walk as the harness runs it (the drivers' own
// walkToEnd over the scenario's walker program, step by step). Single-threaded, side by side under tinybench, on an undisturbed
// page table: what is measured is the harness's own cost, not contention.

import { Bench } from "tinybench";
import { Cpu } from "../kernel/cpu.js";
import { GUP_PIN_COUNTING_BIAS } from "../kernel/frames.js";
import {
  CPU_A,
  FRAME,
  Memory,
  PMD_TABLE,
  pmdId,
  pmdKind,
  pteFrame,
  ptePresent,
} from "../memory/layout.js";
import type { MicroResult } from "../report/results.js";
import { Delays } from "../run/delay.js";
import { walkToEnd } from "../run/driver.js";
import { Rng } from "../run/random.js";
import { Waiter } from "../run/wait.js";
import { resolveFix } from "../scenarios/index.js";
import type { Scenario } from "../scenarios/scenario.js";
import { medianEstimate, pairedRatioMedian } from "../stats/stats.js";

const PTES = 8;
/** walks per tinybench iteration: keeps the timer's own cost out of a ~200 ns call */
const BATCH = 256;

function lab(scenario: Scenario): Memory {
  const frames = scenario.frames({ cpus: 2, regions: 1, ptes: PTES, heldWalks: 0 });
  const tables = scenario.tables?.({ regions: 1, ptes: PTES });
  const mem = new Memory({ cpus: 2, regions: 1, ptes: PTES, frames, traceRing: 4096, tables });
  scenario.setup(mem);
  return mem;
}

/**
 * One walk of region 0's PTES pages exactly as the drivers run it (walkToEnd:
 * step loop, delay hook after each step with no delay points, pending IPIs
 * taken after G9); then every page released.
 */
export function harnessWalker(scenario: Scenario, fixName: string, tracing: boolean): () => number {
  const mem = lab(scenario);
  const cpu = new Cpu(mem, 1, resolveFix(scenario, fixName), tracing);
  const delays = new Delays([], new Rng(1, 1), 1);
  const waiter = new Waiter(cpu, 2000, 64);
  const walker = scenario.walker;
  const w = walker.create(PTES);
  return () => {
    walker.start(w, 0, 0, PTES);
    walkToEnd(cpu, walker, w, delays, waiter);
    const nr = walker.pages(w);
    walker.release(cpu, w);
    return nr;
  };
}

/**
 * The floor: only the Atomics loads and read-modify-writes a walk needs.
 * irq off, pmd load, per page: pte load, the folio's head, refcount
 * add-unless-zero, pte re-load; irq on; then the unpins.
 */
export function floorWalker(
  scenario: Scenario,
  recheck: "none" | "pmd" | "head" = "none",
): () => number {
  const recheckPmd = recheck === "pmd";
  const recheckHead = recheck === "head";
  const mem = lab(scenario);
  const i32 = mem.i32;
  const irq = mem.cpuA(1, CPU_A.irq);
  const frames = new Int32Array(PTES);
  return () => {
    Atomics.add(i32, irq, 1);
    const pmd = Atomics.load(i32, mem.pmd(0));
    let nr = 0;
    if (pmdKind(pmd) === PMD_TABLE) {
      const table = pmdId(pmd);
      for (let j = 0; j < PTES; j++) {
        const pteIdx = mem.pte(table, j);
        const pte = Atomics.load(i32, pteIdx);
        if (!ptePresent(pte)) break;
        // page_folio: the pin goes on the folio's head (a small page is its own).
        const f = Atomics.load(i32, mem.frame(pteFrame(pte), FRAME.head));
        const ref = mem.frame(f, FRAME.refcount);
        let seen = Atomics.load(i32, ref);
        let ok = false;
        while (seen !== 0) {
          const was = Atomics.compareExchange(i32, ref, seen, seen + GUP_PIN_COUNTING_BIAS);
          if (was === seen) {
            ok = true;
            break;
          }
          seen = was;
        }
        if (!ok) break;
        // GR at the floor (c24d37322548): the page's head loaded again, a line just read.
        if (recheckHead && Atomics.load(i32, mem.frame(pteFrame(pte), FRAME.head)) !== f) {
          Atomics.sub(i32, ref, GUP_PIN_COUNTING_BIAS);
          break;
        }
        // G6 at the floor: one more load of the pmd's line, just read at G1.
        if (recheckPmd && Atomics.load(i32, mem.pmd(0)) !== pmd) {
          Atomics.sub(i32, ref, GUP_PIN_COUNTING_BIAS);
          break;
        }
        if (Atomics.load(i32, pteIdx) !== pte) {
          Atomics.sub(i32, ref, GUP_PIN_COUNTING_BIAS);
          break;
        }
        frames[nr++] = f;
      }
    }
    Atomics.add(i32, irq, 1);
    for (let k = 0; k < nr; k++) {
      Atomics.sub(i32, mem.frame(frames[k], FRAME.refcount), GUP_PIN_COUNTING_BIAS);
    }
    return nr;
  };
}

let sink = 0;

function batched(walk: () => number): () => void {
  return () => {
    let s = 0;
    for (let i = 0; i < BATCH; i++) s += walk();
    sink += s;
  };
}

/**
 * `passes` tinybench runs of the five walkers, each pass all five in turn, so
 * that the ratios are paired within a pass and drift between passes shows in
 * their margins: the median over passes, with its order-statistic interval
 * (6 passes at least).
 */
export async function measureMicro(
  passes: number,
  taskMs: number,
  scenario: Scenario,
  parts: { baseline: string; recheck: string | null },
  signal?: AbortSignal,
): Promise<MicroResult> {
  const names = ["floor", "floorRecheck", "harness", "recheck", "traced"] as const;
  const walkers = {
    floor: floorWalker(scenario),
    floorRecheck: floorWalker(
      scenario,
      parts.recheck !== null && resolveFix(scenario, parts.recheck).recheckHead ? "head" : "pmd",
    ),
    harness: harnessWalker(scenario, parts.baseline, false),
    recheck: harnessWalker(scenario, parts.recheck ?? parts.baseline, false),
    traced: harnessWalker(scenario, parts.baseline, true),
  };
  for (const w of Object.values(walkers))
    if (w() !== PTES) throw new Error("walk did not pin every page");
  const perPass: Record<(typeof names)[number], number[]> = {
    floor: [],
    floorRecheck: [],
    harness: [],
    recheck: [],
    traced: [],
  };
  for (let p = 0; p < passes; p++) {
    // Rotate the order each pass so that no walker always runs first. One
    // Bench per walker, with a turn of the event loop between them: Ctrl-C
    // is heard within one task's time.
    const tasks = [];
    for (let k = 0; k < names.length; k++) {
      await new Promise<void>((r) => setImmediate(r));
      if (signal?.aborted) throw new Error("interrupted");
      const name = names[(k + p) % names.length];
      const bench = new Bench({ time: taskMs, warmupTime: Math.min(50, taskMs), iterations: 16 });
      bench.add(name, batched(walkers[name]), { async: false });
      await bench.run();
      tasks.push(...bench.tasks);
    }
    for (const task of tasks) {
      const r = task.result;
      if (r.state !== "completed") throw new Error(`micro ${task.name}: ${r.state}`);
      perPass[task.name as (typeof names)[number]].push((r.latency.mean * 1e6) / BATCH);
    }
  }
  if (sink === -1) console.log(sink);
  const fig = (xs: number[]) => {
    const e = medianEstimate(xs);
    return { value: e.value, rme: e.rme };
  };
  const ratio = (a: number[], b: number[]) => {
    const e = pairedRatioMedian(a, b);
    return { value: e.value, rme: e.rme };
  };
  return {
    ptesPerWalk: PTES,
    passes,
    floorNsPerCall: fig(perPass.floor),
    floorRecheckNsPerCall: fig(perPass.floorRecheck),
    harnessNsPerCall: fig(perPass.harness),
    recheckNsPerCall: fig(perPass.recheck),
    tracedNsPerCall: fig(perPass.traced),
    harnessOverhead: ratio(perPass.harness, perPass.floor),
    recheckOverhead: ratio(perPass.recheck, perPass.harness),
    floorRecheckOverhead: ratio(perPass.floorRecheck, perPass.floor),
    traceOverhead: ratio(perPass.traced, perPass.harness),
  };
}
