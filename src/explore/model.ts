// A scenario as a model for the scheduler: the same step functions the
// worker threads run (the scenario's mutator and walker programs, ipiTake) on
// a real Memory, one thread. CPU 0 runs the mutator's operations on region 0
// one after another (the trial's, then its follow-ups); every other CPU runs
// one walk over its own range of region 0's pages, then idles with
// interrupts on. At the end each walk is graded, pins still held, by the
// scenario's own oracle.

import { bystanderStep } from "../kernel/bystander.js";
import { Cpu } from "../kernel/cpu.js";
import type { Fix } from "../kernel/fixes.js";
import type { IpiWait } from "../kernel/irq.js";
import { canTakeIpi, hostPreempt, hostResume, ipiTake, isPreempted } from "../kernel/irq.js";
import { BLOCKED } from "../kernel/steps.js";
import { decodeRaw, readRing, type TraceStep } from "../kernel/trace.js";
import { CPU_A, CTL, type Geometry, Memory } from "../memory/layout.js";
import type { Scenario } from "../scenarios/scenario.js";
import {
  agentOf,
  hostToggle,
  isHostToggle,
  isInterrupt,
  MAX_AGENTS,
  type Model,
  type Outcome,
} from "./scheduler.js";

export interface KernelConfig {
  scenario: Scenario;
  fix: Fix;
  /** CPU 0 runs the mutator, CPUs 1..cpus-1 each run one walk */
  cpus: number;
  /** pages in the region (PTEs in its table) */
  ptes: number;
  /** each walker's pages, [first, count]; default: the whole region */
  ranges?: readonly (readonly [number, number])[];
  /** stamp every step with the global clock (for drawing; off while exploring) */
  tracing?: boolean;
  /**
   * bystander CPUs (ids cpus .. cpus + bystanders - 1): each runs one
   * IRQ-off section (BO, BI) on unrelated work and takes IPIs with interrupts on
   */
  bystanders?: number;
  /**
   * Host preemptions each walker's vCPU may suffer during its walk: the host
   * deschedules it anywhere, interrupts on or off, sets its steal-time word,
   * and lets it run again later. Default: DEFAULT_HOST_PREEMPTIONS where the
   * fix reads that word (ipiPvFlush), else 0: nothing else can tell a
   * preempted vCPU from one the scheduler simply does not pick (a waiting
   * IPI sender only waits longer), so elsewhere it adds only equivalent
   * interleavings.
   */
  hostPreemptions?: number;
}

/** One preemption per walker: enough for the PV-flush hole (preempted between G1 and G5). */
export const DEFAULT_HOST_PREEMPTIONS = 1;

/** The host-preemption bound a model gets when none is given. */
export function defaultHostPreemptions(fix: Fix): number {
  return fix.ipiPvFlush ? DEFAULT_HOST_PREEMPTIONS : 0;
}

export const MODEL_LIMITS = {
  cpus: { min: 2, max: 4 },
  ptes: { min: 1, max: 8 },
  bystanders: { min: 0, max: 2 },
} as const;

/** IRQ-off sections each bystander runs in the model. */
const BYSTANDER_SECTIONS = 1;

/** One field of CPU-local state (a walk, an operation, a Cpu), flattened into Int32 words. */
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
  readonly labels: readonly string[];
  readonly config: KernelConfig;
  readonly scenario: Scenario;
  readonly mem: Memory;
  readonly cpus: Cpu[];
  readonly op: IpiWait;
  /** walks[i] belongs to CPU i + 1 */
  readonly walks: unknown[];
  /** the mutator's next phase, and each finished operation's outcome (-1: none) */
  private readonly progress = { phase: 0, outcomes: new Int32Array(8) };
  /** each bystander's next step (2 per IRQ-off section) */
  private readonly bystanders: { pc: Int32Array };
  private readonly allCpus: number;
  /** host preemptions each CPU has suffered (state: bounded per walk) */
  private readonly host: { used: Int32Array };
  private readonly hostBound: number;
  private readonly forbidden: boolean[];
  private readonly undeclared: number;
  /** the words that hold state: everything before the trace rings */
  private readonly stateWords: number;
  /** words the hash skips: clocks and trace bookkeeping, which do not decide the future */
  private readonly skip: Uint8Array;
  /** CPU-local fields, stored after the memory words in a snapshot */
  private readonly slots: Slot[] = [];
  private readonly snapshotWords: number;
  private readonly initial: Int32Array;
  /** the slots, read and written by code made once per model (monomorphic loads, no keyed lookups) */
  private readonly readSlots: (owners: readonly object[], snap: Int32Array) => void;
  private readonly writeSlots: (owners: readonly object[], snap: Int32Array) => void;
  private readonly owners: object[] = [];
  /** hash()'s copy of the CPU-local fields (from stateWords on), kept between calls */
  private readonly scratch: Int32Array;
  /** the shared words a snapshot holds, as one view made once */
  private readonly stateView: Int32Array;
  /** what the oracle saw that the scenario does not declare, last final state */
  detail = "";
  /** the first wrong frame and its page index at the last final state, -1 if none */
  staleFrame = -1;
  staleIndex = -1;

  constructor(config: KernelConfig) {
    const bystanders = config.bystanders ?? 0;
    this.allCpus = config.cpus + bystanders;
    if (this.allCpus > MAX_AGENTS) throw new Error(`at most ${MAX_AGENTS} CPUs`);
    this.bystanders = { pc: new Int32Array(bystanders) };
    this.config = config;
    const scenario = config.scenario;
    this.scenario = scenario;
    this.labels = scenario.outcomes.map((o) => o.key);
    this.forbidden = scenario.outcomes.map((o) => o.grade === "FORBIDDEN");
    this.undeclared = scenario.outcomes.findIndex((o) => o.tag === "undeclared");
    const geo: Geometry = {
      cpus: config.cpus,
      regions: 1,
      ptes: config.ptes,
      frames: scenario.frames({ cpus: config.cpus, regions: 1, ptes: config.ptes, heldWalks: 0 }),
      traceRing: 16 * config.ptes + 64,
      tables: scenario.tables?.({ regions: 1, ptes: config.ptes }),
      bystanders,
    };
    this.mem = new Memory(geo);
    scenario.setup(this.mem);
    const tracing = config.tracing === true;
    this.cpus = Array.from(
      { length: this.allCpus },
      (_, id) => new Cpu(this.mem, id, config.fix, tracing),
    );
    this.op = scenario.mutator.create(this.cpus[0]);
    this.walks = Array.from({ length: config.cpus - 1 }, (_, i) => {
      const w = scenario.walker.create(config.ptes);
      const [first, count] = config.ranges?.[i] ?? [0, config.ptes];
      scenario.walker.start(w, 0, first, count);
      return w;
    });
    this.progress.outcomes.fill(-1);
    this.host = { used: new Int32Array(config.cpus) };
    this.hostBound = config.hostPreemptions ?? defaultHostPreemptions(config.fix);
    this.advance();
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
    // Every field, whatever it is: a field added to a walk or an operation later is covered here.
    add(this.op, Object.keys(this.op));
    for (const w of this.walks) add(w as object, Object.keys(w as object));
    for (const c of this.cpus) add(c, ["traceHead", "ipiBroadcasts"]);
    add(this.progress, ["phase", "outcomes"]);
    add(this.bystanders, ["pc"]);
    add(this.host, ["used"]);
    this.snapshotWords = at;
    [this.readSlots, this.writeSlots] = compileSlots(this.slots, this.owners);
    this.scratch = new Int32Array(at);
    this.stateView = this.mem.i32.subarray(0, this.stateWords);
    this.skip = new Uint8Array(at);
    this.skip[CTL.clock] = 1;
    for (let c = 0; c < this.allCpus; c++) {
      for (const f of [CPU_A.lastStep, CPU_A.lastClock, CPU_A.traceHead])
        this.skip[this.mem.cpuA(c, f)] = 1;
    }
    for (const i of unhashed) this.skip[i] = 1;
    this.initial = this.save() as Int32Array;
  }

  /** Record a finished operation's outcome and start the next phase, until one has steps to run. */
  private advance(): void {
    const m = this.scenario.mutator;
    const p = this.progress;
    for (;;) {
      if (p.phase > 0 && !m.done(this.op)) return;
      if (p.phase > 0) p.outcomes[p.phase - 1] = m.outcome(this.op);
      if (p.phase >= this.scenario.phases) return;
      m.start(this.cpus[0], this.op, 0, p.phase++);
    }
  }

  private mutatorRunning(): boolean {
    return !this.scenario.mutator.done(this.op);
  }

  reset(): void {
    this.restore(this.initial);
  }

  enabled(out: number[]): number {
    const mem = this.mem;
    const { mutator, walker } = this.scenario;
    let n = 0;
    // An operation waiting for IPI acks cannot step until they are all in.
    if (this.mutatorRunning() && !mutator.blocked(mem, this.op)) out[n++] = 0;
    for (let id = 1; id < this.config.cpus; id++) {
      // A vCPU the host has descheduled does nothing until the host lets it run.
      if (isPreempted(mem, id)) {
        out[n++] = hostToggle(id);
        continue;
      }
      const walking = !walker.done(this.walks[id - 1]);
      if (walking) out[n++] = id * 2;
      // Taking an IPI is this CPU's action whenever the IRQ-off rule allows it.
      if (canTakeIpi(this.cpus[id])) out[n++] = id * 2 + 1;
      // The host may deschedule a walking vCPU anywhere, interrupts off included.
      if (walking && this.host.used[id] < this.hostBound) out[n++] = hostToggle(id);
    }
    const pcs = this.bystanders.pc;
    for (let k = 0; k < pcs.length; k++) {
      const id = this.config.cpus + k;
      if (pcs[k] < 2 * BYSTANDER_SECTIONS) out[n++] = id * 2;
      if (canTakeIpi(this.cpus[id])) out[n++] = id * 2 + 1;
    }
    return n;
  }

  apply(action: number): void {
    const id = agentOf(action);
    if (id === 0) {
      if (this.scenario.mutator.step(this.cpus[0], this.op) === BLOCKED)
        throw new Error("the mutator stepped while blocked");
      this.advance();
    } else if (isHostToggle(action)) {
      const cpu = this.cpus[id];
      if (isPreempted(this.mem, id)) hostResume(cpu);
      else {
        hostPreempt(cpu);
        this.host.used[id]++;
      }
    } else if (isInterrupt(action)) {
      if (!ipiTake(this.cpus[id])) throw new Error(`CPU ${id} took an IPI it could not take`);
    } else if (id >= this.config.cpus) {
      bystanderStep(this.cpus[id], this.bystanders.pc[id - this.config.cpus]++);
    } else this.scenario.walker.step(this.cpus[id], this.walks[id - 1]);
  }

  save(reuse?: unknown): unknown {
    const into =
      reuse instanceof Int32Array && reuse.length === this.snapshotWords
        ? reuse
        : new Int32Array(this.snapshotWords);
    return this.saveInto(into);
  }

  private saveInto(snap: Int32Array): Int32Array {
    snap.set(this.stateView);
    this.readSlots(this.owners, snap);
    return snap;
  }

  restore(snapshot: unknown): void {
    const snap = snapshot as Int32Array;
    this.mem.i32.set(snap.subarray(0, this.stateWords));
    this.writeSlots(this.owners, snap);
  }

  hash(): number {
    // The words a snapshot would hold, in its order: the shared words read in
    // place, the CPU-local fields copied into the kept buffer first.
    const mem = this.mem.i32;
    const w = this.scratch;
    this.readSlots(this.owners, w);
    const skip = this.skip;
    const split = this.stateWords;
    let h1 = 0x811c9dc5 | 0;
    let h2 = 0x1b873593 | 0;
    for (let i = 0; i < split; i++) {
      if (skip[i] === 1) continue;
      const v = mem[i];
      h1 = Math.imul(h1 ^ v, 0x01000193);
      h2 = Math.imul(h2 ^ v ^ (h2 >>> 15), 0x5bd1e995);
    }
    for (let i = split; i < w.length; i++) {
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
    const { walker } = this.scenario;
    const stuck = this.mutatorRunning() || this.walks.some((w) => !walker.done(w));
    if (stuck) {
      this.detail = "deadlock: a CPU cannot finish and no action is enabled";
      return { labels: [this.undeclared], violation: true };
    }
    for (let p = 0; p < this.scenario.phases; p++) {
      const o = this.progress.outcomes[p];
      if (o >= 0) labels.push(o);
    }
    for (let i = 0; i < this.walks.length; i++) {
      const v = walker.grade(this.mem, this.walks[i], i + 1);
      if (v.outcome < 0) {
        this.detail = "a mutator operation still in flight at the end";
        labels.push(this.undeclared);
      } else {
        if (v.detail !== "") this.detail = v.detail;
        if (v.frame >= 0 && this.staleFrame < 0) {
          this.staleFrame = v.frame;
          this.staleIndex = v.index;
        }
        labels.push(v.outcome);
      }
    }
    return { labels, violation: labels.some((l) => this.forbidden[l]) };
  }

  /** The steps taken since the last reset, in clock order (tracing models only). */
  trace(): TraceStep[] {
    const out: TraceStep[] = [];
    for (let c = 0; c < this.allCpus; c++) {
      for (const e of readRing(this.mem, c, this.cpus[c].traceHead)) out.push(decodeRaw(e));
    }
    return out.sort((x, y) => x.clock - y.clock);
  }
}

/**
 * The code that copies every slot into a snapshot and back, made once per
 * layout of the fields: one property load or store per field, by name, as a hand-written
 * copy would do it (a loop over the slots looks each field up by a key it
 * holds in a variable, which costs most of a state's time). Fills `owners`
 * with the objects the code reads, by index.
 */
function compileSlots(slots: readonly Slot[], owners: object[]): [Copy, Copy] {
  const read: string[] = [];
  const write: string[] = [];
  for (const slot of slots) {
    let o = owners.indexOf(slot.owner);
    if (o < 0) o = owners.push(slot.owner) - 1;
    const field = `owners[${o}][${JSON.stringify(slot.key)}]`;
    if (slot.kind === "array") {
      read.push(`s.set(${field}, ${slot.at});`);
      // A loop, not set(subarray): a subarray is an object made per call.
      write.push(
        `{ const a = ${field}; for (let k = 0; k < ${slot.len}; k++) a[k] = s[${slot.at} + k]; }`,
      );
    } else if (slot.kind === "bool") {
      read.push(`s[${slot.at}] = ${field} ? 1 : 0;`);
      write.push(`${field} = s[${slot.at}] !== 0;`);
    } else {
      read.push(`s[${slot.at}] = ${field};`);
      write.push(`${field} = s[${slot.at}];`);
    }
  }
  return [copyCode(read.join("\n")), copyCode(write.join("\n"))];
}

type Copy = (owners: readonly object[], snap: Int32Array) => void;

/**
 * One function per body: the models of one exploration (one per choice of
 * the walks' ranges, with the same fields each) share it, so it is compiled
 * and optimized once.
 */
const COPY_CODE = new Map<string, Copy>();

function copyCode(body: string): Copy {
  let f = COPY_CODE.get(body);
  if (f === undefined) {
    // The body is made from the model's own field names (JSON-quoted) and numbers only.
    f = new Function("owners", "s", body) as Copy;
    COPY_CODE.set(body, f);
  }
  return f;
}

/**
 * How to keep one field in a snapshot. Integers, booleans and Int32Arrays are
 * state; a plain array is fixed for the model's life. Anything else stops the
 * model: a new kind of field needs a decision here.
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
