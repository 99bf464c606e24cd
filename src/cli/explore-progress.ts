// What a long explore run tells the user on stderr: up front, what it may cost
// (a time estimate for --runs from the rate of the first ~200 ms; a warning
// for an exhaustive search without memo, which may never finish), then a
// progress line every 2 s on a terminal (every 10 s otherwise) once the run
// has lasted 2 s. The search calls back every few thousand states or a few
// hundred runs; this keeps the per-call work to a clock read.

import { performance } from "node:perf_hooks";
import type { ExploreOptions } from "../explore/explore.js";

/** The rate behind the estimate is measured over this long, once the first WARM_MS are past. */
const ESTIMATE_AFTER_MS = 200;
const WARM_MS = 100;
/** A run is long (worth an estimate, worth progress lines) past this. */
const LONG_MS = 2000;
const TTY_EVERY_MS = 2000;
const PLAIN_EVERY_MS = 10_000;

export interface ProgressOut {
  err: (s: string) => void;
  isTTY: boolean;
}

const num = (n: number) => Math.round(n).toLocaleString("en-US");

export function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(0)} days`;
}

/**
 * Say up front what `run` may cost; returns the callback for the search
 * (ExploreOptions.onProgress) and `done`, which clears a redrawn line.
 */
export function exploreProgress(
  run: ExploreOptions,
  out: ProgressOut,
  now: () => number = () => performance.now(),
): { onProgress: (done: number) => void; done: () => void } {
  const t0 = now();
  const sampling = run.strategy !== "exhaustive";
  const tag = `gupstress explore: fix ${run.fix}`;
  if (!sampling && run.noMemo === true) {
    out.err(
      `${tag}: --no-memo runs each of the interleavings of ${run.cpus} CPUs x ${run.ptes} ptes to its end: their number grows exponentially, this may not finish (progress every 2 s; Ctrl-C stops it)\n`,
    );
  }
  let estimated = false;
  // The rate is measured after WARM_MS: the model's set-up and the JIT's
  // first passes would make the estimate too long.
  let firstMs = -1;
  let firstDone = 0;
  let lastPrint = -1;
  let drew = false;
  const onProgress = (done: number) => {
    const ms = now() - t0;
    if (firstMs < 0) {
      if (ms < WARM_MS) return;
      firstMs = ms;
      firstDone = done;
    } else if (sampling && !estimated && ms - firstMs >= ESTIMATE_AFTER_MS) {
      estimated = true;
      const perMs = (done - firstDone) / (ms - firstMs);
      const totalMs = ms + (run.runs - done) / perMs;
      if (totalMs >= LONG_MS) {
        out.err(
          `${tag}: ${run.strategy}, ${num(run.runs)} runs at ${num(perMs * 1000)} runs/s: about ${duration(totalMs)}\n`,
        );
      }
    }
    if (ms < LONG_MS) return;
    if (lastPrint >= 0 && ms - lastPrint < (out.isTTY ? TTY_EVERY_MS : PLAIN_EVERY_MS)) return;
    lastPrint = ms;
    const rate = num((done / ms) * 1000);
    const line = sampling
      ? `${tag}: ${num(done)} of ${num(run.runs)} runs (${((done / run.runs) * 100).toFixed(1)}%) in ${duration(ms)}, about ${duration(((run.runs - done) / done) * ms)} left`
      : `${tag}: ${num(done)} states run in ${duration(ms)} (${rate}/s)`;
    if (out.isTTY) {
      out.err(`\r${line}\x1b[K`);
      drew = true;
    } else out.err(`${line}\n`);
  };
  const done = () => {
    if (drew) out.err("\r\x1b[K");
  };
  return { onProgress, done };
}
