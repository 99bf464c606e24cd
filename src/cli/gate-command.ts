// gupstress gate: the deterministic CI gate. No threads and no timing: the
// explorer's verdict for every scenario x fix (default sizes) and the
// explorer half of `mutants`. Exit 0 when all are as expected, else 1;
// --junit FILE writes JUnit XML (atomically) for the CI's test report.

import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import { writableDirProblem, writeFileAtomic } from "../bench/atomic.js";
import { DEFAULT_EXPLORE, explore } from "../explore/explore.js";
import { runMutants } from "../explore/mutants.js";
import { asExpected } from "../run/verdict.js";
import { expectationOf, SCENARIOS } from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, UsageError, usageExit } from "./args.js";
import type { Io } from "./io.js";

const FLAGS: FlagSpec[] = [
  { name: "junit", kind: "string", arg: "FILE", help: "also write JUnit XML to FILE" },
  { name: "json", kind: "bool", help: "print one JSON object on stdout instead of text" },
  { name: "help", kind: "bool", help: "this help" },
];

export interface GateCase {
  suite: "explore" | "mutants";
  scenario: string;
  name: string;
  ok: boolean;
  ms: number;
  message: string;
}

/** Every check of the gate, in order. */
export async function gateCases(): Promise<GateCase[]> {
  const cases: GateCase[] = [];
  for (const scenario of SCENARIOS) {
    for (const decl of scenario.fixes) {
      const r = explore({ ...DEFAULT_EXPLORE, scenario: scenario.name, fix: decl.name });
      const expect = expectationOf(scenario, decl.name);
      const ok = asExpected(r.outcomes, expect);
      const got = r.verdict === "race" ? "race found" : "no race";
      cases.push({
        suite: "explore",
        scenario: scenario.name,
        name: `fix ${decl.name}`,
        ok,
        ms: r.ms,
        message: `${got} (expected ${expect}) in ${r.explored.toLocaleString("en-US")} interleavings${r.complete ? "" : " (not complete)"}${r.counterexample ? `; replay: gupstress explore --replay ${r.counterexample.replay}` : ""}`,
      });
    }
  }
  const rows = await runMutants({
    ptes: DEFAULT_EXPLORE.ptes,
    stressSeconds: 0,
    seed: 1,
    caughtIn: false,
  });
  for (const m of rows) {
    cases.push({
      suite: "mutants",
      scenario: m.scenario,
      name: `mutant ${m.id}`,
      ok: m.ok,
      ms: m.explorer.ms,
      message: `${m.expected === "caught" ? "must be caught" : "equivalent: must stay clean"}; explorer ${m.explorer.caught ? "caught it" : "found no race"} in ${m.explorer.explored.toLocaleString("en-US")} interleavings${m.explorer.replay ? `; replay: gupstress explore --replay ${m.explorer.replay}` : ""}`,
    });
  }
  return cases;
}

const xml = (s: string) =>
  s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");

/** JUnit XML: one testsuite per suite, one testcase per check. */
export function junitXml(cases: readonly GateCase[], totalMs: number): string {
  const failures = cases.filter((c) => !c.ok).length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="gupstress gate" tests="${cases.length}" failures="${failures}" time="${(totalMs / 1000).toFixed(3)}">`,
  ];
  for (const suite of ["explore", "mutants"] as const) {
    const mine = cases.filter((c) => c.suite === suite);
    const ms = mine.reduce((a, c) => a + c.ms, 0);
    lines.push(
      `  <testsuite name="gupstress gate ${suite}" tests="${mine.length}" failures="${mine.filter((c) => !c.ok).length}" errors="0" time="${(ms / 1000).toFixed(3)}">`,
    );
    for (const c of mine) {
      const head = `    <testcase classname="${xml(`${suite}.${c.scenario}`)}" name="${xml(c.name)}" time="${(c.ms / 1000).toFixed(3)}"`;
      if (c.ok) lines.push(`${head}/>`);
      else {
        lines.push(`${head}>`);
        lines.push(
          `      <failure message="${xml(c.message)}" type="NotAsExpected">${xml(c.message)}</failure>`,
        );
        lines.push("    </testcase>");
      }
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>", "");
  return lines.join("\n");
}

export async function gateCommand(argv: readonly string[], io: Io): Promise<number> {
  let f: Map<string, unknown>;
  let junit: string | null;
  try {
    f = parseFlags(argv, FLAGS);
    junit = (f.get("junit") as string | undefined) ?? null;
    if (junit !== null) {
      const problem = writableDirProblem(dirname(junit));
      if (problem !== null)
        throw new UsageError(`--junit ${junit}: cannot write there (${problem})`);
    }
  } catch (e) {
    return usageExit("gate", io.err, e);
  }
  if (f.get("help") === true) {
    io.out(
      `usage: gupstress gate [flags]      (npm run gate -- [flags])\n\nThe deterministic CI gate: the explorer's verdict for every scenario x fix and for every\nmutant (no threads, no timing; seconds).\n\n${flagHelp(FLAGS)}\n\nexit: 0 every check as expected, 1 otherwise, 2 usage error\n`,
    );
    return EXIT.ok;
  }
  const t0 = performance.now();
  const cases = await gateCases();
  const ms = performance.now() - t0;
  const failed = cases.filter((c) => !c.ok);
  if (junit !== null) {
    try {
      writeFileAtomic(junit, junitXml(cases, ms));
    } catch (e) {
      io.err(`gupstress gate: cannot write ${junit} (${(e as Error).message.split("\n")[0]})\n`);
      return EXIT.fault;
    }
  }
  if (f.get("json") === true) {
    io.out(`${JSON.stringify({ ok: failed.length === 0, ms, cases })}\n`);
  } else {
    for (const c of cases) {
      io.out(
        `  ${c.ok ? "ok  " : "FAIL"} ${c.suite.padEnd(8)} ${c.scenario} ${c.name.padEnd(26)} ${c.message}\n`,
      );
    }
    io.out(
      `gupstress gate: ${cases.length - failed.length}/${cases.length} as expected in ${(ms / 1000).toFixed(2)} s: ${failed.length === 0 ? "pass" : `FAIL (${failed.map((c) => c.name).join(", ")})`}\n`,
    );
  }
  return failed.length === 0 ? EXIT.ok : EXIT.mismatch;
}
