// Issue 12, items 9 and 12: `report` on a damaged, truncated, empty, null, [],
// wrong-schema file or a directory says so in one line and exits 2.

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixtureResults } from "./bench-fixture.js";
import { gupstress } from "./run-cli.js";

const tmp = mkdtempSync(join(tmpdir(), "gupstress-i12-files-"));
const good = JSON.stringify(fixtureResults(), null, 2);

const cases: [string, string | null, RegExp][] = [
  ["truncated", good.slice(0, Math.floor(good.length / 2)), /not valid JSON/],
  ["empty", "", /is empty/],
  ["null", "null", /not a gupstress bench result: the top level is null/],
  ["array", "[]", /not a gupstress bench result: the top level is an array/],
  ["other tool", '{"tool":"other"}', /not a gupstress bench result/],
  ["wrong version", JSON.stringify({ ...fixtureResults(), version: 2 }), /version 2 is not 1/],
  [
    "missing fields",
    '{"tool":"gupstress-bench","version":1}',
    /not a gupstress bench result: quick is missing/,
  ],
  [
    "wrong field type",
    JSON.stringify({ ...fixtureResults(), scaling: [{ fix: 3 }] }),
    /scaling\[0\]\.fix is a number/,
  ],
  [
    "damaged deep inside",
    JSON.stringify({ ...fixtureResults(), micro: {} }),
    /not a gupstress bench result the report can read/,
  ],
  ["a directory", null, /is a directory/],
];

describe("report --in a file that is not a bench result", () => {
  for (const [name, text, message] of cases) {
    it(`${name}: one line, exit 2`, () => {
      const file = join(tmp, name.replace(/\W+/g, "_"));
      if (text === null) mkdirSync(file, { recursive: true });
      else writeFileSync(file, text);
      const r = gupstress(["report", "--in", file, "--out", join(tmp, "out")], 20_000);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toContain(file);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe("");
    });
  }

  it("the fixture itself is accepted", () => {
    const file = join(tmp, "good.json");
    writeFileSync(file, good);
    const r = gupstress(["report", "--in", file, "--out", join(tmp, "out")], 20_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("report.html");
  });
});
