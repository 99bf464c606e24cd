// A race window that adapts to the machine. The default delay points are
// tuned on a quiet machine; under load a descheduled thread makes every step
// slower on one side, and the walkers may arrive always too late (the pmd
// already cleared, or the huge pmd already installed) or always too early.
// The main thread measures the window hit rate (the scenario's window
// outcomes and races, per trial) at a few scales, keeps the best, and
// measures again whenever the rate falls well below what it was. A scale s
// multiplies the walkers' random delays by s and divides the mutator's by s:
// below 1 the walkers come earlier against the mutator, above 1 later.
// Forced delays (replays) are never scaled; `--no-adapt` keeps every delay as
// given.
//
// When the scale in force reaches the window not once in ZERO_TRIALS trials,
// the next measurement makes the delays sleep instead of spin (CTL.delaySleep,
// src/run/delay.ts). That is what a busy machine does to two CPU threads that
// share a core: each runs a whole trial in its time slice, and a spinning
// delay only burns the slice. Measured on the 2-core development machine
// beside 2 busy loops, `--fix none --until-race` in 20 fresh processes: 4
// runs reached the window 0 times in thousands of trials at every scale, and
// found their first race only after 1.8 to 5 s.

import { CTL, DELAY_SCALE_ONE, type Memory, STAT, STAT_OUTCOME_BASE } from "../memory/layout.js";
import type { Scenario } from "../scenarios/scenario.js";

/**
 * A calibration tries the scale in force, half of it and twice it (within
 * MIN_SCALE..MAX_SCALE): the first one starts from the delays as given, each
 * later one from where the last one ended, so the scale walks to where the
 * window is under the load of the moment. A wider sweep costs more than it
 * finds: on this 2-core machine at load average 9, scales of 1/8 and 8 saw
 * no window hit at all.
 */
export const MIN_SCALE = 1 / 8;
export const MAX_SCALE = 8;

export function scalesAround(center: number): number[] {
  return [center, center / 2, center * 2].filter(
    (s, i) => i === 0 || (s >= MIN_SCALE && s <= MAX_SCALE),
  );
}

/** What a measurement runs with: the delays' scale, and whether they sleep instead of spinning. */
export interface Setting {
  scale: number;
  sleep: boolean;
}

/** The first measurements of a calibration: the scales around `center`, spinning. */
function planAround(center: number): Setting[] {
  return scalesAround(center).map((scale) => ({ scale, sleep: false }));
}

/** One measurement: a scale, the trials it ran and the window hits it saw. */
export interface ScaleTry extends Setting {
  trials: number;
  hits: number;
}

/** What the adapter did, for the summary and the JSON. */
export interface Calibration {
  /** the scale in force at the end */
  scale: number;
  /** whether the delays slept instead of spinning at the end */
  sleep: boolean;
  /** every measurement of the last calibration (the first, or the last re-calibration) */
  tries: ScaleTry[];
  /** times the hit rate fell below a quarter of the calibrated one and the scales were tried again */
  recalibrations: number;
  /** the best rate of the last calibration, hits per trial */
  rate: number;
}

/**
 * A measurement ends once it has MIN_TRIALS trials and MIN_HITS window hits,
 * or MIN_TRIALS trials and MAX_PERIOD_MS: a rate from a handful of hits is noise.
 */
const MIN_TRIALS = 64;
const MIN_HITS = 16;
const MAX_PERIOD_MS = 400;
/**
 * A measurement with no window hit at all ends after this many trials (on an
 * idle machine the delays as given hit the window in several percent of
 * trials); then, if it was the first, sleeping delays are tried next.
 */
const ZERO_TRIALS = 256;
/** A scale other than as given must beat it by this much, on at least MIN_EVIDENCE hits. */
const MARGIN = 1.5;
const MIN_EVIDENCE = 4;
/** Steady state: how often the rate is checked. */
const CHECK_MS = 500;

export class DelayAdapter {
  private readonly mem: Memory;
  private readonly window: number[];
  private phase: "calibrating" | "steady" = "calibrating";
  private index = 0;
  /** the measurements of this calibration, in order: a scale, and whether the delays sleep */
  private plan = planAround(1);
  private tries: ScaleTry[] = [];
  /** the last completed calibration's measurements, while a new one runs */
  private done: ScaleTry[] = [];
  private periodStart = 0;
  private trials0 = 0;
  private hits0 = 0;
  private best: ScaleTry = { scale: 1, sleep: false, trials: 0, hits: 0 };
  private recalibrations = 0;

  constructor(mem: Memory, scenario: Scenario) {
    this.mem = mem;
    this.window = scenario.outcomes.flatMap((o, i) =>
      o.window === true || (o.grade === "FORBIDDEN" && o.tag !== "undeclared")
        ? [STAT_OUTCOME_BASE + i]
        : [],
    );
    this.set(this.plan[0]);
  }

  private counts(): [number, number] {
    let hits = 0;
    for (const s of this.window) hits += this.mem.statTotal(s);
    return [this.mem.statTotal(STAT.iterations), hits];
  }

  private set({ scale, sleep }: Setting): void {
    this.mem.store(CTL.delayScale, Math.round(scale * DELAY_SCALE_ONE));
    this.mem.store(CTL.delaySleep, sleep ? 1 : 0);
  }

  /** Start a calibration around `center`, spinning first. */
  private calibrate(center: number): void {
    this.phase = "calibrating";
    this.index = 0;
    this.tries = [];
    this.plan = planAround(center);
    this.set(this.plan[0]);
  }

  private begin(now: number): void {
    this.periodStart = now;
    [this.trials0, this.hits0] = this.counts();
  }

  /** Called every few milliseconds by the main thread while the run goes on. */
  tick(now: number): void {
    if (this.periodStart === 0) {
      this.begin(now);
      return;
    }
    const [trials, hits] = this.counts();
    const dt = trials - this.trials0;
    const elapsed = now - this.periodStart;
    if (this.phase === "calibrating") {
      const got = hits - this.hits0;
      const blind = got === 0 && dt >= ZERO_TRIALS;
      if (dt < MIN_TRIALS || (got < MIN_HITS && elapsed < MAX_PERIOD_MS && !blind)) return;
      const { scale, sleep } = this.plan[this.index];
      this.tries.push({ scale, sleep, trials: dt, hits: got });
      // Blind while spinning as given: the same scale, sleeping, is tried next.
      if (this.index === 0 && got === 0 && !sleep) this.plan.splice(1, 0, { scale, sleep: true });
      if (++this.index < this.plan.length) {
        this.set(this.plan[this.index]);
        this.begin(now);
        return;
      }
      // The best rate wins, if it beats the delays as given clearly enough.
      const given = this.tries[0];
      const top = this.tries.reduce((b, t) => (rate(t) > rate(b) ? t : b), given);
      this.best = top.hits >= MIN_EVIDENCE && rate(top) >= MARGIN * rate(given) ? top : given;
      this.set(this.best);
      this.phase = "steady";
      this.begin(now);
      return;
    }
    if (elapsed < CHECK_MS || dt < MIN_TRIALS) return;
    // Measure again only on evidence: at least MIN_HITS hits were expected
    // at the calibrated rate, and fewer than a quarter of them came.
    const expected = rate(this.best) * dt;
    if (expected >= MIN_HITS && hits - this.hits0 < expected / 4) {
      this.recalibrations++;
      this.done = this.tries;
      this.calibrate(this.best.scale);
    }
    this.begin(now);
  }

  result(): Calibration {
    return {
      scale: this.mem.load(CTL.delayScale) / DELAY_SCALE_ONE,
      sleep: this.mem.load(CTL.delaySleep) !== 0,
      tries: (this.phase === "steady" || this.done.length === 0 ? this.tries : this.done).map(
        (t) => ({ ...t }),
      ),
      recalibrations: this.recalibrations,
      rate: rate(this.best),
    };
  }
}

function rate(t: ScaleTry): number {
  return t.trials === 0 ? 0 : t.hits / t.trials;
}
