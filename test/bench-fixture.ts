// A fixed, hand-made benchmark result for the report tests: numbers chosen to
// be recognisable in the output, not measured.

import type { BenchResults, VariantResult } from "../src/report/results.js";

function variant(fix: string, cpus: number, k: number): VariantResult {
  const ipi = fix === "ipi" || fix === "upstream";
  return {
    fix,
    cpus,
    rounds: 5,
    gupCallsPerSec: 1_234_000 / k,
    gupLatencyNs: { p50: 271 * k, p99: 1_357 * k },
    collapseLatencyUs: { p50: ipi ? 2.5 * cpus ** 3 : 1.75, p99: ipi ? 9 * cpus ** 3 : 4.5 },
    ipiWaitUs: ipi ? { p50: 0.6 * cpus ** 3, p99: 2.4 * cpus ** 3 } : null,
    backoffRate: fix === "recheck" || fix === "upstream" ? 0.0061 : 0,
    fallbackRate: 0.45,
    collapsesPerSec: 400_000 / k,
    ipiHandlerEntriesPerSec: ipi ? 200_000 / cpus : 0,
    vsNone: { gupCallsPerSec: 1 / k, gupLatencyP50: k, collapseLatencyP50: ipi ? 1.4 : 1 },
    rme: {
      gupCallsPerSec: 3.3,
      gupLatencyNs: { p50: 2.2, p99: 11 },
      collapseLatencyUs: { p50: 4.4, p99: null },
      ipiWaitUs: ipi ? { p50: 12, p99: 40 } : null,
      backoffRate: null,
      fallbackRate: 1.5,
      collapsesPerSec: 6.6,
      ipiHandlerEntriesPerSec: ipi ? 7.7 : null,
      vsNone: { gupCallsPerSec: 2.5, gupLatencyP50: 1.1, collapseLatencyP50: 3 },
    },
  };
}

export function fixtureResults(): BenchResults {
  const fixes = ["none", "ipi", "recheck", "upstream"];
  const cpus = [2, 3, 4, 8];
  const scaling = cpus.flatMap((c) => fixes.map((f, i) => variant(f, c, 1 + i / 10)));
  return {
    tool: "gupstress-bench",
    version: 1,
    quick: false,
    environment: {
      node: "v20.20.2",
      v8: "11.3.244.8-node.38",
      cpuModel: "Test CPU 9000",
      cores: 2,
      platform: "linux test",
      date: "2026-11-25T21:00:00.000Z",
      commit: "abcdef123456",
    },
    settings: {
      rounds: 5,
      runMs: 400,
      cpus,
      fixes,
      sampleEvery: 4,
      trace: false,
      delays: "none",
      raceRunMs: 2000,
      raceTrials: 20,
    },
    variants: scaling.filter((v) => v.cpus === 2),
    scaling,
    floorNsPerCall: 371.5,
    floorNsPerCallRme: 2.5,
    harnessOverhead: 2.93,
    harnessOverheadRme: 1.9,
    micro: {
      ptesPerWalk: 8,
      passes: 5,
      floorNsPerCall: { value: 371.5, rme: 2.5 },
      harnessNsPerCall: { value: 1088, rme: 1.2 },
      recheckNsPerCall: { value: 1310, rme: 1.4 },
      tracedNsPerCall: { value: 5100, rme: 2 },
      harnessOverhead: { value: 2.93, rme: 1.9 },
      recheckOverhead: { value: 1.2, rme: 1.7 },
      traceOverhead: { value: 4.7, rme: 3 },
    },
    racePower: [
      {
        fix: "none",
        cpus: 2,
        mode: "lockstep",
        iterations: 40_000,
        races: 1_500,
        racesPerMillion: 37_500,
        racesPerMillionRme: 5.1,
        upperBound: null,
        firstRaceMs: { median: 0.25, p90: 30 },
        firstRaceMsRme: { median: 40, p90: null },
        trials: 20,
        censored: 0,
        trialLimitMs: 3000,
        trialTimesMs: Array.from({ length: 20 }, (_, i) => 0.1 * 1.5 ** i),
      },
      {
        fix: "ipi-skip",
        cpus: 3,
        mode: "lockstep",
        iterations: 60_000,
        races: 2,
        racesPerMillion: 33.3,
        racesPerMillionRme: 139,
        upperBound: null,
        firstRaceMs: { median: 210, p90: null },
        firstRaceMsRme: { median: 80, p90: null },
        trials: 20,
        censored: 3,
        trialLimitMs: 3000,
        trialTimesMs: [...Array.from({ length: 17 }, (_, i) => 5 * 1.3 ** i), null, null, null],
      },
      {
        fix: "recheck",
        cpus: 2,
        mode: "lockstep",
        iterations: 300_000,
        races: 0,
        racesPerMillion: 0,
        racesPerMillionRme: null,
        upperBound: 1e-5,
        firstRaceMs: null,
        firstRaceMsRme: null,
        trials: 0,
        censored: 0,
        trialLimitMs: 3000,
        trialTimesMs: [],
      },
    ],
    pool: { coldStartupMs: 66, warmStartupMs: 14 },
    wallMs: 123_400,
  };
}
