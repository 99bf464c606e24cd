// When V8 optimises the CPUs' code. A cold worker's hot functions reach
// TurboFan within milliseconds, and TurboFan compiles on V8's platform
// threads: on a 2-core machine they take a core from one of the two CPUs for
// most of the run's first second (measured: 134 optimisations and 40% of the
// cores in a 1-second run), so the first trials stall for milliseconds at a
// time and the first race waits for them. A run raises V8's interrupt budget
// (the work a function does between two tier-up checks) about 20 times, so
// that the CPUs run V8's baseline code, compiled at once on their own
// threads, until the code has been hot for longer; the optimising compilers
// then compile it in the background as usual. V8's flags are the process's:
// CPU 0 of a run sets them, before its warm-up, and they stay set. The other
// CPUs do not load node:v8 (about 4 ms each). Node's own start-up (module
// loading) runs before, under V8's defaults: set by the main thread before the
// workers start, the same flags made the workers' start-up about 25 ms slower
// (median of 20 cold runs each, side by side). The reason: V8 takes a code
// cache only under the flags it was made with, Node's built-in modules
// included, so a thread that starts after any flag has changed compiles all
// of Node's own modules from scratch (a bare worker: 94 of them from the
// cache before, 0 after). The CPU bundle's own code cache comes in both
// flavours for that reason (workers/cpu-entry.cts), and with more CPUs than
// cores, where most threads start after CPU 0, CPU 0 sets the flags only once
// every CPU's thread has started (CpuTask.jitWhenAllStarted).
//
// Measured on the 2-core development machine, Node 20.20, idle, `stress --fix
// none --until-race` in a fresh process, 12 to 16 runs each: first race p50
// 35 ms, p90 67 ms with V8's defaults; p50 4.8 ms, p90 6.5 ms delayed. The
// cost: a 5-second run makes about 10% fewer trials (Node 24: 24%).

/**
 * The V8 flags that delay optimisation about 20 times. V8 11 (Node 20) counts
 * a function's work in an interrupt budget (default 66 KiB); V8 12 and later
 * (Node 22, 24) count invocations: 400 before Maglev, 3000 before TurboFan,
 * 100 and 500 to 800 before on-stack replacement into them. Both compilers
 * run on V8's platform threads there, so both are delayed.
 */
export function turbofanDelayFlags(v8Version: string = process.versions.v8): string[] {
  const major = Number(v8Version.split(".")[0]);
  if (major < 12) return [`--interrupt-budget=${20 * 66 * 1024}`];
  return [
    "--invocation-count-for-maglev=8000",
    "--invocation-count-for-turbofan=60000",
    "--invocation-count-for-maglev-osr=2000",
    "--invocation-count-for-osr=10000",
  ];
}

let delayed: string[] | null = null;

/** Delay TurboFan for this process (idempotent); returns the flags set. */
export function delayTurbofan(): string[] {
  if (delayed === null) {
    delayed = turbofanDelayFlags();
    // Loaded here, not at the top: node:v8 takes about 4 ms to load, in the CPU that needs it only.
    const v8 = process.getBuiltinModule("node:v8");
    for (const f of delayed) v8.setFlagsFromString(f);
  }
  return delayed;
}
