// Issue 12, item 17: number flags take plain decimal notation only; hex,
// octal and binary prefixes and a leading '+' are refused (1e6 stays valid).

import { describe, expect, it } from "vitest";
import { type FlagSpec, parseFlags, UsageError } from "../src/cli/args.js";
import { gupstress } from "./run-cli.js";

const SPECS: FlagSpec[] = [
  { name: "n", kind: "int", help: "", min: 0, max: 1e12 },
  { name: "x", kind: "number", help: "", min: -10, max: 1e12 },
];

describe("number notation", () => {
  for (const bad of [
    "0x4",
    "0X4",
    "0o4",
    "0b100",
    "+4",
    "4_000",
    "1e",
    ".",
    "4.",
    "--4",
    "0x1p3",
  ]) {
    it(`'${bad}' is refused`, () => {
      expect(() => parseFlags(["--n", bad], SPECS)).toThrow(UsageError);
      expect(() => parseFlags(["--x", bad], SPECS)).toThrow(UsageError);
    });
  }

  for (const [good, value] of [
    ["4", 4],
    ["004", 4],
    ["1e6", 1e6],
    ["1E3", 1000],
    ["2.5e3", 2500],
  ] as const) {
    it(`'${good}' is ${value}`, () => {
      expect(parseFlags(["--n", good], SPECS).get("n")).toBe(value);
    });
  }

  it("numbers flags keep their fractions and signs", () => {
    expect(parseFlags(["--x", "0.25"], SPECS).get("x")).toBe(0.25);
    expect(parseFlags(["--x", ".5"], SPECS).get("x")).toBe(0.5);
    expect(parseFlags(["--x", "-3"], SPECS).get("x")).toBe(-3);
    expect(parseFlags(["--x", "1e-2"], SPECS).get("x")).toBe(0.01);
  });

  it("gupstress stress --cpus 0x4: one line, exit 2", () => {
    const r = gupstress(["stress", "--cpus", "0x4"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cpus '0x4' is not a number/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
