// Draw a race as the seed thread does: one column per CPU, kernel step names,
// rows in the global order the steps happened (their clock stamps).

import type { TraceStep } from "../run/stress.js";

export interface InterleavingOptions {
  /** the stale frame: its rows are marked */
  frame?: number;
  /** width of each CPU column */
  width?: number;
}

/** One line of text for a step, e.g. "K6 isolate: page pinned? [page 3, ref 1]". */
export function describe(s: TraceStep): string {
  const page = s.index >= 0 ? ` page ${s.index}` : "";
  switch (s.step) {
    case "G1":
      return `G1 read pmd${s.value === 0 ? " (none)" : s.value >>> 28 === 2 ? " (huge)" : " (table)"}`;
    case "G3":
      return `G3 read pte${page}${s.frame >= 0 ? ` -> frame ${s.frame}` : " (none)"}`;
    case "G5":
      return `G5 pin${page} (frame ${s.frame})${s.value === 0 ? ": refcount 0, fail" : ""}`;
    case "G6":
      return `G6 re-check pmd${page}`;
    case "G7":
      return `G7 re-check pte${page}`;
    case "G8":
      return `G8 return${page}`;
    case "K0":
      return `K0 scan: ${s.value === 1 ? "all present, none pinned" : "pinned or missing"}`;
    case "K4":
      return "K4 pmdp_collapse_flush: clear pmd";
    case "K5":
      return `K5 IPI broadcast to ${s.value} CPU${s.value === 1 ? "" : "s"}`;
    case "K5W":
      return "K5 all acks in";
    case "K6":
      return `K6 isolate${page}: ${s.value > 1 ? `pinned (ref ${s.value}): abort` : "not pinned"}`;
    case "K8":
      return `K8 copy${page}, ptep_clear, release frame ${s.frame}`;
    case "K10":
      return "K10 install huge pmd";
    case "IPI":
      return "IPI handler (ack)";
    default:
      return `${s.step} ${s.text}`;
  }
}

export function drawInterleaving(
  trace: readonly TraceStep[],
  opt: InterleavingOptions = {},
): string {
  const width = opt.width ?? 44;
  const cpus = [...new Set(trace.map((s) => s.cpu))].sort((a, b) => a - b);
  const head = cpus.map((c) => {
    const role = trace.find((s) => s.cpu === c)?.role ?? "";
    return `CPU ${c}: ${role === "collapse" ? "THP collapse" : "GUP-fast"}`.padEnd(width);
  });
  const lines = [`  ${"clock".padStart(7)}  ${head.join("")}`.trimEnd()];
  lines.push(
    `  ${"".padStart(7, "-")}  ${cpus.map(() => "-".repeat(width - 2).padEnd(width)).join("")}`.trimEnd(),
  );
  for (const s of trace) {
    const col = cpus.indexOf(s.cpu);
    let text = describe(s);
    if (opt.frame !== undefined && s.frame === opt.frame && s.step !== "K1") text += "  <-";
    const cells = cpus.map((_, i) => (i === col ? text.padEnd(width) : "".padEnd(width)));
    lines.push(`  ${String(s.clock).padStart(7)}  ${cells.join("")}`.trimEnd());
  }
  return lines.join("\n");
}
