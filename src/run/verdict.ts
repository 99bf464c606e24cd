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
