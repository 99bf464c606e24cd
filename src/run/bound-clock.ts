// Time that counts toward a bound. When the whole process is stopped and
// resumed (Ctrl-Z then fg, kill -STOP / -CONT, a suspended VM), every thread
// wakes up to a clock that jumped: no CPU failed to answer, nobody ran. A
// step of the clock longer than PAUSE_MS between two looks is such a pause
// and does not count; the looks themselves are at most a few milliseconds
// apart (the main thread's 10 ms loop, a wait's 5 ms sleep slices).

import { performance } from "node:perf_hooks";

/** A step longer than this between two looks was a pause of the whole process. */
export const PAUSE_MS = 250;

export class BoundClock {
  private last: number;
  private counted = 0;
  /** pauses skipped so far, and their total length (ms) */
  pauses = 0;
  pausedMs = 0;

  constructor(now: number = performance.now()) {
    this.last = now;
  }

  /** Advance to `now`; returns the milliseconds that count since the start. */
  tick(now: number = performance.now()): number {
    const step = now - this.last;
    this.last = now;
    if (step > PAUSE_MS) {
      this.pauses++;
      this.pausedMs += step;
    } else if (step > 0) this.counted += step;
    return this.counted;
  }
}
