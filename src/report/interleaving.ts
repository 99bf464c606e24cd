// Draw a race as the seed thread does: one column per CPU, kernel step names,
// rows in the global order the steps happened (their clock stamps). The
// scenario names the columns and says what each step did.

import type { TraceStep } from "../kernel/trace.js";
import type { Scenario } from "../scenarios/scenario.js";

export interface InterleavingOptions {
  /** the wrong frame: its rows are marked */
  frame?: number;
  /** width of each CPU column */
  width?: number;
}

export function drawInterleaving(
  trace: readonly TraceStep[],
  scenario: Pick<Scenario, "roles" | "describe">,
  opt: InterleavingOptions = {},
): string {
  const width = opt.width ?? 48;
  const cpus = [...new Set(trace.map((s) => s.cpu))].sort((a, b) => a - b);
  const head = cpus.map((c) => {
    const role = trace.find((s) => s.cpu === c)?.role;
    const name = role === "mutator" ? scenario.roles.mutator : scenario.roles.walker;
    return `CPU ${c}: ${name}`.padEnd(width);
  });
  const lines = [`  ${"clock".padStart(7)}  ${head.join("")}`.trimEnd()];
  lines.push(
    `  ${"".padStart(7, "-")}  ${cpus.map(() => "-".repeat(width - 2).padEnd(width)).join("")}`.trimEnd(),
  );
  for (const s of trace) {
    const col = cpus.indexOf(s.cpu);
    let text = scenario.describe(s);
    if (opt.frame !== undefined && s.frame === opt.frame && s.step !== "K1") text += "  <-";
    const cells = cpus.map((_, i) => (i === col ? text.padEnd(width) : "".padEnd(width)));
    lines.push(`  ${String(s.clock).padStart(7)}  ${cells.join("")}`.trimEnd());
  }
  return lines.join("\n");
}
