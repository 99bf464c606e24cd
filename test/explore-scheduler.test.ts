// The scheduler on tiny hand-made programs, where every count can be worked out by hand.

import { describe, expect, it } from "vitest";
import {
  decodeSchedule,
  encodeSchedule,
  exhaustive,
  type Model,
  type Outcome,
  ReplayError,
  replay,
  sample,
  simplestCounterexample,
} from "../src/explore/scheduler.js";

/**
 * Agents that each run a fixed list of steps over one shared counter `x`.
 * A step is "r" (load x into the agent's register) or "w" (store register + 1)
 * or "n" (touch nothing). Violation: x differs from `expectX` at the end.
 */
class Toy implements Model {
  readonly labels = ["ok", "lost-update"];
  readonly programs: string[];
  readonly expectX: number | null;
  pc: number[];
  reg: number[];
  x = 0;

  constructor(programs: string[], expectX: number | null = null) {
    this.programs = programs;
    this.expectX = expectX;
    this.pc = programs.map(() => 0);
    this.reg = programs.map(() => 0);
  }
  reset(): void {
    this.pc.fill(0);
    this.reg.fill(0);
    this.x = 0;
  }
  enabled(out: number[]): number {
    let n = 0;
    for (let a = 0; a < this.programs.length; a++)
      if (this.pc[a] < this.programs[a].length) out[n++] = a * 2;
    return n;
  }
  apply(action: number): void {
    const a = action >> 1;
    const op = this.programs[a][this.pc[a]++];
    if (op === "r") this.reg[a] = this.x;
    else if (op === "w") this.x = this.reg[a] + 1;
  }
  save(): unknown {
    return { pc: [...this.pc], reg: [...this.reg], x: this.x };
  }
  restore(s: unknown): void {
    const t = s as { pc: number[]; reg: number[]; x: number };
    this.pc = [...t.pc];
    this.reg = [...t.reg];
    this.x = t.x;
  }
  hash(): number {
    let h = this.x;
    for (let a = 0; a < this.pc.length; a++) h = h * 31 + this.pc[a] * 7 + this.reg[a];
    return h;
  }
  outcome(): Outcome {
    const bad = this.expectX !== null && this.x !== this.expectX;
    return { labels: [bad ? 1 : 0], violation: bad };
  }
}

/** Every interleaving of the programs, by brute force, independent of the scheduler. */
function allSchedules(lengths: number[]): number[][] {
  const out: number[][] = [];
  const left = [...lengths];
  const cur: number[] = [];
  const rec = () => {
    if (left.every((l) => l === 0)) {
      out.push([...cur]);
      return;
    }
    for (let a = 0; a < left.length; a++) {
      if (left[a] === 0) continue;
      left[a]--;
      cur.push(a * 2);
      rec();
      cur.pop();
      left[a]++;
    }
  };
  rec();
  return out;
}

/** Preemptions by the definition: a switch away from an agent that still has steps left. */
function preemptions(schedule: number[], lengths: number[]): number {
  const left = [...lengths];
  let prev = -1;
  let n = 0;
  for (const act of schedule) {
    const a = act >> 1;
    if (prev >= 0 && a !== prev && left[prev] > 0) n++;
    left[a]--;
    prev = a;
  }
  return n;
}

describe("exhaustive: counts of interleavings", () => {
  it("two agents of 2 steps: 6 interleavings, 2 / 4 / 6 within 0 / 1 / 2 preemptions", () => {
    // By hand: AABB BBAA (0), ABBA BAAB (1), ABAB BABA (2).
    const m = new Toy(["nn", "nn"]);
    expect(exhaustive(m, { preemptions: null }).explored).toBe(6);
    expect(exhaustive(m, { preemptions: 0 }).explored).toBe(2);
    expect(exhaustive(m, { preemptions: 1 }).explored).toBe(4);
    expect(exhaustive(m, { preemptions: 2 }).explored).toBe(6);
  });

  it("multinomial counts: 3+3 steps give 20, three agents of 2 steps give 90", () => {
    expect(exhaustive(new Toy(["nnn", "nnn"]), { preemptions: null }).explored).toBe(20);
    expect(exhaustive(new Toy(["nn", "nn", "nn"]), { preemptions: null }).explored).toBe(90);
  });

  it("pruning revisited states counts the same interleavings as running every one", () => {
    for (const programs of [
      ["rw", "rw"],
      ["rwn", "nrw", "w"],
      ["rrw", "wnw"],
    ]) {
      const pruned = exhaustive(new Toy(programs, 2), { preemptions: null });
      const full = exhaustive(new Toy(programs, 2), { preemptions: null, memo: false });
      expect(pruned.explored).toBe(full.explored);
      expect(pruned.violations).toBe(full.violations);
      expect([...pruned.histogram]).toEqual([...full.histogram]);
      // ...while running fewer states
      expect(pruned.states).toBeLessThanOrEqual(full.states);
    }
  });

  it("bounded counts match a brute-force enumeration for every bound", () => {
    const lengths = [3, 2, 2];
    const all = allSchedules(lengths);
    expect(all.length).toBe(210); // 7! / (3! 2! 2!)
    for (let k = 0; k <= 5; k++) {
      const want = all.filter((s) => preemptions(s, lengths) <= k).length;
      const got = exhaustive(new Toy(["nnn", "nn", "nn"]), { preemptions: k });
      expect(got.explored, `bound ${k}`).toBe(want);
      expect(got.complete).toBe(true);
    }
  });

  it("reports complete: false when it runs out of its state budget", () => {
    const r = exhaustive(new Toy(["nnnn", "nnnn"]), { preemptions: null, maxStates: 5 });
    expect(r.complete).toBe(false);
  });
});

describe("counterexamples", () => {
  it("lost update: 4 of the 6 interleavings of read-write vs read-write lose one", () => {
    // Violating: both reads before both writes: ABAB ABBA BAAB BABA.
    const m = new Toy(["rw", "rw"], 2);
    const r = exhaustive(m, { preemptions: null });
    expect(r.explored).toBe(6);
    expect(r.violations).toBe(4);
    expect(r.counterexample?.actions.length).toBe(4);
    // with no preemption nothing is lost; the simplest counterexample needs exactly one
    expect(exhaustive(m, { preemptions: 0 }).violations).toBe(0);
    const simplest = simplestCounterexample(m, 4).found;
    expect(simplest?.preemptions).toBe(1);
    expect(["ABBA", "BAAB"]).toContain(decodeAsLetters(simplest?.actions ?? []));
  });

  it("a counterexample replays to the same violation", () => {
    const m = new Toy(["rw", "rw", "rw"], 3);
    const r = exhaustive(m, { preemptions: null });
    const cex = r.counterexample;
    expect(cex).not.toBeNull();
    const again = replay(m, decodeSchedule(encodeSchedule(cex?.actions ?? [])));
    expect(again.violation).toBe(true);
    expect(m.x).toBeLessThan(3);
  });

  it("replay refuses an action that is not enabled, and a schedule that stops early", () => {
    const m = new Toy(["rw", "rw"], 2);
    expect(() => replay(m, [0, 0, 0])).toThrow(ReplayError);
    expect(() => replay(m, [0, 2])).toThrow(/still enabled/);
  });
});

function decodeAsLetters(actions: number[]): string {
  return actions.map((a) => String.fromCharCode(65 + (a >> 1))).join("");
}

describe("schedule strings", () => {
  it("round-trip with run lengths and interrupt actions", () => {
    const actions = [0, 0, 0, 2, 2, 3, 0, 4, 5, 5];
    const text = encodeSchedule(actions);
    expect(text).toBe("A3B2bACc2");
    expect(decodeSchedule(text)).toEqual(actions);
  });

  it("reject what they cannot read", () => {
    expect(() => decodeSchedule("A3-B")).toThrow(/cannot read/);
    expect(() => decodeSchedule("A0")).toThrow(/repeat count/);
  });
});

describe("sampling", () => {
  it("random and PCT find the lost update and are reproducible by seed", () => {
    for (const pctDepth of [undefined, 2]) {
      const m = new Toy(["rnnnw", "rnnnw"], 2);
      const a = sample(m, { runs: 200, seed: 7, pctDepth });
      const b = sample(m, { runs: 200, seed: 7, pctDepth });
      expect(a.violations).toBeGreaterThan(0);
      expect(a.violations).toBe(b.violations);
      expect(a.counterexample?.actions).toEqual(b.counterexample?.actions);
      expect(a.complete).toBe(false);
      expect(a.explored).toBe(200);
    }
  });

  it("PCT depth 1 never preempts: no lost update", () => {
    const r = sample(new Toy(["rw", "rw"], 2), { runs: 200, seed: 3, pctDepth: 1 });
    expect(r.violations).toBe(0);
  });
});
