// npm run figures: one script owns every measured figure in README.md and docs/.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const SCRIPT = join(ROOT, "dist", "bench", "figures.js");
const MARKER = /<!-- figure: (.+?) -->\n([\s\S]*?)<!-- \/figure -->/g;

function figures(args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const docs = [
  join(ROOT, "README.md"),
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(ROOT, "docs", f)),
];

describe("npm run figures", () => {
  it("--check: every marker in README.md and docs/ names a figure the script can make", () => {
    const r = figures(["--check"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\d+ figures in \d+ files/);
    expect(Number(r.stdout.split(" ")[0])).toBeGreaterThan(5);
  });

  it("a bad flag is one line and exit 2", () => {
    const r = figures(["--bogus"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/unknown flag '--bogus' \(accepted: /);
  });

  it("every written figure carries its stamp, and no doc states a load average outside one", () => {
    for (const file of docs) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(MARKER)) {
        if (m[2].trim() === "") continue;
        expect(m[2], `${file}: ${m[1]}`).toMatch(
          /<sub>`npm run figures`, \d{4}-\d\d-\d\d \d\d:\d\d UTC, commit \S+: .+ cores( \(pinned, of \d+\))?, Node v[\d.]+; load average [\d.]+ before, [\d.]+ after\.<\/sub>/,
        );
      }
      const outside = text.replace(MARKER, "");
      expect(outside, file).not.toMatch(/load average \d/);
    }
  });
});
