// gupstress list: every scenario with its fixes (and what each must show),
// its mutants and why each is killable or equivalent.

import { allMutants } from "../explore/mutants.js";
import { SCENARIOS } from "../scenarios/index.js";
import { EXIT, type FlagSpec, flagHelp, parseFlags, usageExit } from "./args.js";
import type { Io } from "./io.js";

const FLAGS: FlagSpec[] = [
  { name: "json", kind: "bool", help: "print one JSON object on stdout" },
  { name: "help", kind: "bool", help: "this help" },
];

export function listJson() {
  return {
    scenarios: SCENARIOS.map((s) => ({
      name: s.name,
      summary: s.summary,
      fixes: s.fixes.map((f) => ({
        name: f.name,
        summary: f.summary,
        expect: f.expect,
        minCpus: f.minCpus,
      })),
      mutants: allMutants()
        .filter((m) => m.scenario === s)
        .map(({ mutant: m }) => ({
          id: m.id,
          fix: m.fix,
          expected: m.equivalent === undefined ? "caught" : "equivalent",
          reason: m.equivalent ?? m.text,
        })),
    })),
  };
}

export async function listCommand(argv: readonly string[], io: Io): Promise<number> {
  let f: Map<string, unknown>;
  try {
    f = parseFlags(argv, FLAGS);
  } catch (e) {
    return usageExit("list", io.err, e);
  }
  if (f.get("help") === true) {
    io.out(
      `usage: gupstress list [flags]      (npm run -s list -- [flags])\n\nEvery scenario, its fix variants with the verdict each must give, and its mutants.\n\n${flagHelp(FLAGS)}\n`,
    );
    return EXIT.ok;
  }
  const body = listJson();
  if (f.get("json") === true) {
    io.out(`${JSON.stringify(body)}\n`);
    return EXIT.ok;
  }
  const lines: string[] = [];
  for (const s of body.scenarios) {
    lines.push(`${s.name}: ${s.summary}`, "  fixes (--fix NAME):");
    for (const x of s.fixes)
      lines.push(
        `    ${x.name.padEnd(12)} expect ${x.expect.padEnd(5)}  ${x.minCpus}+ CPUs  ${x.summary}`,
      );
    lines.push("  mutants (--fix ID, or gupstress mutants --only ID):");
    for (const m of s.mutants)
      lines.push(`    ${m.id.padEnd(24)} ${m.expected.padEnd(10)}  ${m.fix}: ${m.reason}`);
    lines.push("");
  }
  io.out(`${lines.join("\n")}`);
  return EXIT.ok;
}
