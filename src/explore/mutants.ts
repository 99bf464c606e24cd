// Weakened fixes: each is a real fix with one knob turned (a fix is data, so
// a mutant is a name, "base~knob=value", that findFix resolves in every
// thread). A harness that cannot tell them from the real fixes proves nothing.
// Each runs through the explorer (exhaustive) and a short stress run.

import { performance } from "node:perf_hooks";
import { defaultConfig } from "../run/config.js";
import { HarnessFault } from "../run/harness-fault.js";
import { runStress } from "../run/stress.js";
import { DEFAULT_EXPLORE, explore } from "./explore.js";

export interface Mutant {
  id: string;
  /** the fix spec the threads and the explorer run */
  fix: string;
  /** what was weakened, in the kernel's words */
  text: string;
  /** CPUs the mutant needs (1 collapse + GUP-fast CPUs); default 2 */
  cpus?: number;
  /**
   * Set when another protection of the same fix still closes the race in this
   * scenario: the explorer must find it clean (an equivalent mutant), and says why.
   */
  equivalent?: string;
}

export const MUTANTS: readonly Mutant[] = [
  {
    id: "g6-live-pmd",
    fix: "recheck~recheckPmdLive=true",
    text: "G6 compares with a live pmd read just before the pin, not the G1 snapshot",
  },
  {
    id: "g6-before-pin",
    fix: "recheck~recheckBeforePin=true",
    text: "G6 runs before G5 (the pin) instead of after it",
  },
  { id: "g6-dropped", fix: "recheck~recheckPmd=false", text: "G6 dropped: fix 2 undone" },
  {
    id: "ipi-no-wait",
    fix: "ipi~ipiWait=false",
    text: "K5 sends the IPIs but does not wait for the acks",
  },
  {
    id: "ipi-irq-off",
    fix: "ipi~ipiWhileIrqOff=true",
    text: "GUP CPUs take IPIs while interrupts are off (G0..G9)",
  },
  {
    id: "ipi-before-k4",
    fix: "ipi~ipiBeforeClear=true",
    text: "the IPI is sent (and acked) before K4 clears the pmd",
  },
  { id: "ipi-dropped", fix: "ipi~ipi=none", text: "no IPI at K5: fix 1 undone" },
  {
    id: "ipi-skip-one",
    fix: "ipi~ipiSkipOne=true",
    text: "each broadcast skips one GUP CPU, rotating (3 CPUs: a real skip, not an empty broadcast)",
    cpus: 3,
  },
  {
    id: "k6-before-k4",
    fix: "recheck~isolateBeforeClear=true",
    text: "fix 2 with K6 (isolate) before K4 (clear pmd)",
  },
  {
    id: "k6-before-k4-ipi",
    fix: "ipi~isolateBeforeClear=true",
    text: "fix 1 with K6 (isolate) before K4 (clear pmd) and the IPI",
  },
  {
    id: "upstream-ipi-before-k4",
    fix: "upstream~ipiBeforeClear=true",
    text: "mainline with its IPI sent before K4",
    equivalent: "G6 still sees the pmd cleared by K4; the IPI only guards table freeing",
  },
  {
    id: "upstream-no-wait",
    fix: "upstream~ipiWait=false",
    text: "mainline's IPI without waiting for the acks",
    equivalent: "G6 alone closes the collapse race",
  },
  {
    id: "g7-dropped",
    fix: "recheck~recheckPte=false",
    text: "fix 2 without the G7 pte re-check",
    equivalent:
      "a pte changes only at K8, after K4: G6 backs off first; G7 guards zap and migration (MODEL.md section 7), not modelled",
  },
  {
    id: "g7-dropped-ipi",
    fix: "ipi~recheckPte=false",
    text: "fix 1 without the G7 pte re-check",
    equivalent: "K6 waits for every walker to leave: no pte changes under a walk",
  },
];

export function findMutant(id: string): Mutant | undefined {
  return MUTANTS.find((m) => m.id === id);
}

export interface MutantRow {
  id: string;
  fix: string;
  text: string;
  cpus: number;
  /** "caught" when the race must be found, "equivalent" when it must not */
  expected: "caught" | "equivalent";
  explorer: {
    caught: boolean;
    explored: number;
    violations: number;
    complete: boolean;
    ms: number;
    replay: string | null;
  };
  /** null when stress was not run (--no-stress) */
  stress: {
    caught: boolean;
    iterations: number;
    races: number;
    /** milliseconds to the first race, or the whole run when none */
    ms: number;
    firstRaceMs: number | null;
  } | null;
  /** the explorer's verdict matches the expectation */
  ok: boolean;
}

export interface MutantOptions {
  ptes: number;
  /** seconds of stress per mutant; 0: no stress */
  stressSeconds: number;
  seed: number;
  /** only these mutant ids (default: all) */
  only?: readonly string[];
  onRow?: (row: MutantRow) => void;
  /** Ctrl-C: stop after the mutant in hand */
  signal?: AbortSignal;
}

export async function runMutants(opt: MutantOptions): Promise<MutantRow[]> {
  const rows: MutantRow[] = [];
  for (const m of MUTANTS) {
    // A turn of the event loop: the explorer is synchronous, and Ctrl-C is
    // only heard between two mutants.
    if (opt.signal !== undefined) await new Promise<void>((r) => setImmediate(r));
    if (opt.signal?.aborted) break;
    if (opt.only !== undefined && !opt.only.includes(m.id)) continue;
    const cpus = m.cpus ?? 2;
    const t0 = performance.now();
    const r = explore({ ...DEFAULT_EXPLORE, fix: m.fix, cpus, ptes: opt.ptes });
    const exploreMs = performance.now() - t0;
    let stress: MutantRow["stress"] = null;
    if (opt.stressSeconds > 0) {
      const config = {
        ...defaultConfig(),
        fix: m.fix,
        cpus,
        seed: opt.seed,
        timeMs: opt.stressSeconds * 1000,
        untilRace: true,
      };
      const s = await runStress(config, { signal: opt.signal });
      // Ctrl-C: the rows so far are the result.
      if (s.interrupted !== null) break;
      if (s.aborted !== null)
        throw new HarnessFault(`stress run of mutant ${m.id} aborted: ${s.aborted}`);
      stress = {
        caught: s.races > 0,
        iterations: s.iterations,
        races: s.races,
        ms: s.firstRaceMs ?? s.durationMs,
        firstRaceMs: s.firstRaceMs,
      };
    }
    const caught = r.violations > 0;
    const expected = m.equivalent === undefined ? "caught" : "equivalent";
    const row: MutantRow = {
      id: m.id,
      fix: m.fix,
      text: m.equivalent === undefined ? m.text : `${m.text} (equivalent: ${m.equivalent})`,
      cpus,
      expected,
      explorer: {
        caught,
        explored: r.explored,
        violations: r.violations,
        complete: r.complete,
        ms: Math.round(exploreMs * 10) / 10,
        replay: r.counterexample?.replay ?? null,
      },
      stress,
      ok: expected === "caught" ? caught : !caught && r.complete,
    };
    rows.push(row);
    opt.onRow?.(row);
  }
  return rows;
}
