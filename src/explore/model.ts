// The gup-vs-collapse scenario as a model for the scheduler: the same step
// functions the worker threads run (collapseStep, gupFastStep, ipiTake) on a
// real Memory, one thread. CPU 0 runs one collapse of region 0; every other
// CPU runs one GUP-fast walk over all of region 0's pages, then idles with
// interrupts on. At the end each walk is graded, pins still held, by the
// stress harness's own oracle.

import {
  type Collapse,
  collapseDone,
  collapseNext,
  collapseStep,
  newCollapse,
  startCollapse,
} from "../kernel/collapse.js";
import { Cpu } from "../kernel/cpu.js";
import type { Fix } from "../kernel/fixes.js";
import { type GupWalk, gupFastStep, newWalk, startWalk } from "../kernel/gup.js";
import { ipiAcked, ipiPending, ipiTake, irqsOff } from "../kernel/irq.js";
import { BLOCKED, DONE, STEP } from "../kernel/steps.js";
import { decodeTraceStep, type TraceStep } from "../kernel/trace.js";
import { CPU_A, CTL, type Geometry, Memory } from "../memory/layout.js";
import {
  collapseOutcomeStat,
  gradeWalk,
  OUTCOME_KEYS,
  OUTCOMES,
  outcomeOfStat,
  setupRegions,
} from "../scenarios/gup-vs-collapse.js";
import { agentOf, isInterrupt, MAX_AGENTS, type Model, type Outcome } from "./scheduler.js";

export interface KernelConfig {
  fix: Fix;
  /** CPU 0 collapses, CPUs 1..cpus-1 each run one GUP-fast walk */
  cpus: number;
  /** pages in the region (PTEs in its table) */
  ptes: number;
  /** stamp every step with the global clock (for drawing; off while exploring) */
  tracing?: boolean;
}

export const MODEL_LIMITS = { cpus: { min: 2, max: 4 }, ptes: { min: 1, max: 8 } } as const;

const UNDECLARED = OUTCOME_KEYS.indexOf("undeclared");
const FORBIDDEN = OUTCOMES.map((o) => o.grade === "FORBIDDEN");

/** One field of CPU-local state (a walk, the collapse, a Cpu), flattened into Int32 words. */
interface Slot {
  owner: Record<string, unknown>;
  key: string;
  kind: "int" | "bool" | "array";
  at: number;
  len: number;
}

/** Clock stamps and trace heads say when a step ran, not what the state is: not hashed. */
const UNHASHED = new Set(["startClock", "endClock", "traceHead"]);

export class KernelModel implements Model {
  readonly labels = OUTCOME_KEYS;
  readonly config: KernelConfig;
  readonly mem: Memory;
  readonly cpus: Cpu[];
  readonly collapse: Collapse;
  /** walks[i] belongs to CPU i + 1 */
  readonly walks: GupWalk[];
  /** the words that hold state: everything before the trace rings */
  private readonly stateWords: number;
  /** words the hash skips: clocks and trace bookkeeping, which do not decide the future */
  private readonly skip: Uint8Array;
  /** CPU-local fields, stored after the memory words in a snapshot */
  private readonly slots: Slot[] = [];
  private readonly snapshotWords: number;
  private readonly initial: Int32Array;
  /** what the oracle saw that the scenario does not declare, last final state */
  detail = "";
  /** the first stale frame and its page index at the last final state, -1 if none */
  staleFrame = -1;
  staleIndex = -1;

  constructor(config: KernelConfig) {
    if (config.cpus > MAX_AGENTS) throw new Error(`at most ${MAX_AGENTS} CPUs`);
    this.config = config;
    const geo: Geometry = {
      cpus: config.cpus,
      regions: 1,
      ptes: config.ptes,
      // the small pages, one huge page, a spare
      frames: config.ptes + 2,
      traceRing: 8 * config.ptes + 32,
    };
    this.mem = new Memory(geo);
    setupRegions(this.mem);
    const tracing = config.tracing === true;
    this.cpus = Array.from(
      { length: config.cpus },
      (_, id) => new Cpu(this.mem, id, config.fix, tracing),
    );
    this.collapse = newCollapse(config.fix, config.cpus);
    startCollapse(this.collapse, 0);
    this.walks = Array.from({ length: config.cpus - 1 }, () => {
      const w = newWalk(config.ptes);
      startWalk(w, 0, 0, config.ptes);
      return w;
    });
    this.stateWords = this.mem.traceBase;
    let at = this.stateWords;
    const unhashed: number[] = [];
    const add = (owner: object, keys: readonly string[]) => {
      for (const key of keys) {
        const slot = slotOf(owner, key, at);
        if (slot === null) continue;
        if (UNHASHED.has(key)) for (let k = 0; k < slot.len; k++) unhashed.push(at + k);
        this.slots.push(slot);
        at += slot.len;
      }
    };
    // Every field, whatever it is: a field added to a walk or a collapse later is covered here.
    add(this.collapse, Object.keys(this.collapse));
    for (const w of this.walks) add(w, Object.keys(w));
    for (const c of this.cpus) add(c, ["traceHead", "ipiBroadcasts"]);
    this.snapshotWords = at;
    this.skip = new Uint8Array(at);
    this.skip[CTL.clock] = 1;
    for (let c = 0; c < config.cpus; c++) {
      for (const f of [CPU_A.lastStep, CPU_A.lastClock, CPU_A.traceHead])
        this.skip[this.mem.cpuA(c, f)] = 1;
    }
    for (const i of unhashed) this.skip[i] = 1;
    this.initial = this.save() as Int32Array;
  }

  reset(): void {
    this.restore(this.initial);
  }

  enabled(out: number[]): number {
    const mem = this.mem;
    let n = 0;
    const c = this.collapse;
    // A collapse waiting for IPI acks (K5W) cannot step until they are all in.
    if (!collapseDone(c) && (collapseNext(c) !== STEP.K5W || allAcked(mem, c))) out[n++] = 0;
    const lax = this.config.fix.ipiWhileIrqOff;
    for (let id = 1; id < this.config.cpus; id++) {
      if (this.walks[id - 1].pc !== DONE) out[n++] = id * 2;
      // Taking an IPI is this CPU's action whenever its interrupts are on (or always, under the mutant).
      if (ipiPending(mem, id) && (lax || !irqsOff(mem, id))) out[n++] = id * 2 + 1;
    }
    return n;
  }

  apply(action: number): void {
    const id = agentOf(action);
    if (id === 0) {
      if (collapseStep(this.cpus[0], this.collapse) === BLOCKED)
        throw new Error("collapse stepped while blocked");
    } else if (isInterrupt(action)) {
      if (!ipiTake(this.cpus[id])) throw new Error(`CPU ${id} took an IPI it could not take`);
    } else gupFastStep(this.cpus[id], this.walks[id - 1]);
  }

  save(): unknown {
    const snap = new Int32Array(this.snapshotWords);
    snap.set(this.mem.i32.subarray(0, this.stateWords));
    for (const slot of this.slots) {
      const v = slot.owner[slot.key];
      if (slot.kind === "array") snap.set(v as Int32Array, slot.at);
      else snap[slot.at] = slot.kind === "bool" ? (v ? 1 : 0) : (v as number);
    }
    return snap;
  }

  restore(snapshot: unknown): void {
    const snap = snapshot as Int32Array;
    this.mem.i32.set(snap.subarray(0, this.stateWords));
    for (const slot of this.slots) {
      if (slot.kind === "array") {
        (slot.owner[slot.key] as Int32Array).set(snap.subarray(slot.at, slot.at + slot.len));
      } else slot.owner[slot.key] = slot.kind === "bool" ? snap[slot.at] !== 0 : snap[slot.at];
    }
  }

  hash(): number {
    const w = this.save() as Int32Array;
    const skip = this.skip;
    let h1 = 0x811c9dc5 | 0;
    let h2 = 0x1b873593 | 0;
    for (let i = 0; i < w.length; i++) {
      if (skip[i] === 1) continue;
      const v = w[i];
      h1 = Math.imul(h1 ^ v, 0x01000193);
      h2 = Math.imul(h2 ^ v ^ (h2 >>> 15), 0x5bd1e995);
    }
    h1 ^= h1 >>> 16;
    h2 = Math.imul(h2 ^ (h2 >>> 13), 0xc2b2ae35);
    return (h1 >>> 0) * 2097152 + ((h2 >>> 0) & 0x1fffff);
  }

  outcome(): Outcome {
    const labels: number[] = [];
    this.detail = "";
    this.staleFrame = -1;
    this.staleIndex = -1;
    const c = this.collapse;
    const stuck = !collapseDone(c) || this.walks.some((w) => w.pc !== DONE);
    if (stuck) {
      this.detail = "deadlock: a CPU cannot finish and no action is enabled";
      return { labels: [UNDECLARED], violation: true };
    }
    labels.push(labelOf(collapseOutcomeStat(c.result)));
    for (let i = 0; i < this.walks.length; i++) {
      const w = this.walks[i];
      const v = gradeWalk(this.mem, w, i + 1);
      if (v.stat < 0) {
        this.detail = "a collapse still in flight at the end";
        labels.push(UNDECLARED);
      } else {
        if (v.detail !== "") this.detail = v.detail;
        if (v.frame >= 0 && this.staleFrame < 0) {
          this.staleFrame = v.frame;
          this.staleIndex = v.index;
        }
        labels.push(labelOf(v.stat));
      }
    }
    return { labels, violation: labels.some((l) => FORBIDDEN[l]) };
  }

  /** The steps taken since the last reset, in clock order (tracing models only). */
  trace(): TraceStep[] {
    const mem = this.mem;
    const out: TraceStep[] = [];
    for (let c = 0; c < this.config.cpus; c++) {
      const head = this.cpus[c].traceHead;
      const ring = mem.geo.traceRing;
      for (let i = Math.max(0, head - ring); i < head; i++) {
        out.push(decodeTraceStep(c, (k) => mem.load(mem.trace(c, i % ring, k))));
      }
    }
    return out.sort((x, y) => x.clock - y.clock);
  }
}

function labelOf(stat: number): number {
  const o = outcomeOfStat(stat);
  return o === undefined ? UNDECLARED : OUTCOME_KEYS.indexOf(o.key);
}

function allAcked(mem: Memory, c: Collapse): boolean {
  for (let k = 0; k < c.nTargets; k++) if (!ipiAcked(mem, c.targets[k], c.epochs[k])) return false;
  return true;
}

/**
 * How to keep one field in a snapshot. Integers, booleans and Int32Arrays are
 * state; a plain array (the collapse's program) is fixed for the model's life.
 * Anything else stops the model: a new kind of field needs a decision here.
 */
function slotOf(owner: object, key: string, at: number): Slot | null {
  const o = owner as Record<string, unknown>;
  const v = o[key];
  if (typeof v === "number") {
    if (!Number.isInteger(v) || (v | 0) !== v) throw new Error(`field ${key} is not an int32`);
    return { owner: o, key, kind: "int", at, len: 1 };
  }
  if (typeof v === "boolean") return { owner: o, key, kind: "bool", at, len: 1 };
  if (v instanceof Int32Array) return { owner: o, key, kind: "array", at, len: v.length };
  if (Array.isArray(v)) return null;
  throw new Error(`cannot keep field ${key} in a snapshot`);
}
