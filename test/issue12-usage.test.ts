// Issue 12, item 21: `gupstress` with no command prints the usage on stderr
// (exit 2); `gupstress --help` prints it on stdout (exit 0).

import { describe, expect, it } from "vitest";
import { gupstress } from "./run-cli.js";

describe("the top-level usage", () => {
  it("no arguments: usage on stderr, nothing on stdout, exit 2", () => {
    const r = gupstress([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^usage: gupstress <command>/);
  });

  for (const arg of ["--help", "help"]) {
    it(`${arg}: usage on stdout, exit 0`, () => {
      const r = gupstress([arg]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/^usage: gupstress <command>/);
    });
  }
});
