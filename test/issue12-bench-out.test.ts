// Issue 12, item 8: bench checks that its output directory is writable before
// the (long) suite runs, and still prints its results when saving them fails.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { benchCommand } from "../src/cli/bench-command.js";
import { fixtureResults } from "./bench-fixture.js";
import { gupstress } from "./run-cli.js";

// The suite itself is replaced: what is tested is what happens around it.
const suite = vi.hoisted(() => ({ before: () => {} }));
vi.mock("../src/bench/suite.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../src/bench/suite.js")>();
  return {
    ...real,
    runSuite: async () => {
      suite.before();
      return fixtureResults();
    },
  };
});

const tmp = mkdtempSync(join(tmpdir(), "gupstress-i12-out-"));

describe("bench --out a directory that cannot be written", () => {
  const unwritable: [string, () => string][] = [
    [
      "a path under a regular file",
      () => {
        const file = join(tmp, "a-file");
        writeFileSync(file, "");
        return join(file, "results");
      },
    ],
  ];
  if (process.getuid?.() !== 0) {
    unwritable.push([
      "a read-only directory",
      () => {
        const dir = join(tmp, "read-only");
        mkdirSync(dir, { mode: 0o555 });
        return dir;
      },
    ]);
  }
  for (const [name, make] of unwritable) {
    it(`${name}: a usage error before anything runs`, () => {
      const t0 = Date.now();
      const r = gupstress(["bench", "--quick", "--json", "--out", make()], 20_000);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/cannot save results in/);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stdout).toBe("");
    });
  }
});

describe("saving fails after the suite ran", () => {
  it("the JSON is still printed; one line on stderr; exit 3", async () => {
    const dir = join(tmp, "vanishes");
    // The directory was fine when checked, and is a file by the time the results are saved.
    suite.before = () => {
      rmSync(dir, { recursive: true, force: true });
      writeFileSync(dir, "");
    };
    const out: string[] = [];
    const err: string[] = [];
    const code = await benchCommand(["--quick", "--json", "--quiet", "--out", dir], {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
      isTTY: false,
    });
    expect(code).toBe(3);
    expect(JSON.parse(out.join("")).tool).toBe("gupstress-bench");
    expect(err.join("").trim().split("\n")).toHaveLength(1);
    expect(err.join("")).toMatch(/results printed but not saved/);
  });
});
