// Issue 12, item 13: Ctrl-C (or SIGTERM) while `report` runs its automatic
// `bench --quick`: one line, exit 130 (143), no stack.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { reportCommand } from "../src/cli/report-command.js";

const where = vi.hoisted(() => ({ dir: "" }));

vi.mock("../src/bench/files.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/bench/files.js")>();
  return { ...real, defaultResultsDir: () => where.dir };
});

// The suite as it behaves when interrupted: it throws once the signal is aborted.
vi.mock("../src/bench/suite.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/bench/suite.js")>();
  return {
    ...real,
    runSuite: (_p: unknown, _log: unknown, signal?: AbortSignal) =>
      new Promise((_, reject) => {
        signal?.addEventListener("abort", () =>
          reject(new Error(`interrupted (${signal.reason})`)),
        );
      }),
  };
});

describe("report's automatic bench, interrupted", () => {
  for (const [sig, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    it(`${sig}: exit ${code}, one line`, async () => {
      where.dir = mkdtempSync(join(tmpdir(), "gupstress-i12-report-int-"));
      const err: string[] = [];
      const out: string[] = [];
      const controller = new AbortController();
      setTimeout(() => controller.abort(sig), 50);
      const result = await reportCommand(["--out", where.dir], {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
        isTTY: false,
        signal: controller.signal,
      });
      expect(result).toBe(code);
      const lines = err.join("").trim().split("\n");
      // The "no results: running bench --quick" notice, then the one line.
      expect(lines.at(-1)).toMatch(new RegExp(`interrupted by ${sig}`));
      expect(lines).toHaveLength(2);
      expect(out).toEqual([]);
    });
  }
});
