// The verdict rule, one copy for stress, soak, explore and mutants: a run
// "races" when the oracle counted a declared FORBIDDEN outcome (a race), and
// is "clean" only when it counted no FORBIDDEN outcome at all (an undeclared
// outcome is FORBIDDEN too, and fails a run expected to race as well as one
// expected to be clean).

import type { Grade, OutcomeTag } from "../scenarios/scenario.js";

export type Expect = "race" | "clean";

export interface Counted {
  count: number;
  grade: Grade;
  tag: OutcomeTag;
}

export function racesIn(outcomes: Record<string, Counted>): number {
  let n = 0;
  for (const o of Object.values(outcomes))
    if (o.grade === "FORBIDDEN" && o.tag !== "undeclared") n += o.count;
  return n;
}

export function forbiddenIn(outcomes: Record<string, Counted>): number {
  let n = 0;
  for (const o of Object.values(outcomes)) if (o.grade === "FORBIDDEN") n += o.count;
  return n;
}

/** What the oracle saw: a race, or none. */
export function verdictOf(outcomes: Record<string, Counted>): Expect {
  return racesIn(outcomes) > 0 ? "race" : "clean";
}

/** The run shows what was expected: the race was seen, or nothing FORBIDDEN was. */
export function asExpected(outcomes: Record<string, Counted>, expect: Expect): boolean {
  const undeclared = forbiddenIn(outcomes) - racesIn(outcomes);
  return expect === "race"
    ? racesIn(outcomes) > 0 && undeclared === 0
    : forbiddenIn(outcomes) === 0;
}

/** What a run must show before its verdict counts (issue: no verdict without evidence). */
export interface Evidence {
  /** outcomes the scenario marks as reaching the race window */
  windowHits: number;
  /** the fewest window hits a verdict of "no race" needs */
  minWindowHits: number;
  /** the racy baseline run under the same flags, when one was run */
  control: { fix: string; races: number } | null;
}

export type Judgement = "as expected" | "NOT as expected" | "inconclusive";

/**
 * The verdict rule with its evidence. A race is a race whatever else
 * happened. "No race" counts only if the run reached the race window often
 * enough, and, where a control ran, if the control raced under the same
 * flags; otherwise it is inconclusive, with one line saying what to change.
 */
export function judge(
  outcomes: Record<string, Counted>,
  expect: Expect,
  e: Evidence,
): { judgement: Judgement; why: string } {
  const races = racesIn(outcomes);
  const undeclared = forbiddenIn(outcomes) - races;
  if (undeclared > 0)
    return { judgement: "NOT as expected", why: `${undeclared} undeclared outcomes` };
  if (races > 0) {
    return expect === "race"
      ? { judgement: "as expected", why: "" }
      : { judgement: "NOT as expected", why: `${races} races under a fix expected clean` };
  }
  if (e.windowHits < e.minWindowHits) {
    return {
      judgement: "inconclusive",
      why: `the race window was reached ${e.windowHits} times (${e.minWindowHits} needed): run longer (--time), keep the default delay points, or lower the --delay values`,
    };
  }
  if (expect === "race") {
    return { judgement: "NOT as expected", why: `no race in ${e.windowHits} window hits` };
  }
  if (e.control !== null && e.control.races === 0) {
    return {
      judgement: "inconclusive",
      why: `the control (${e.control.fix}) found no race under the same flags, so these flags cannot show a race: run longer or widen the window`,
    };
  }
  return { judgement: "as expected", why: "" };
}
