// Issue 12, item 9: a write that fails half-way (a full disk) leaves the old
// latest.json, report.html and report.md whole, and no temporary file behind.

import * as realFs from "node:fs";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { loadResults, saveResults } from "../src/bench/files.js";
import { reportCommand } from "../src/cli/report-command.js";
import { fixtureResults } from "./bench-fixture.js";

// While `disk.full`, every write puts half of its bytes on disk and fails with ENOSPC.
const disk = vi.hoisted(() => ({ full: false }));

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const enospc = () =>
    Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  const writeFileSync = (
    file: realFs.PathOrFileDescriptor,
    data: string | Uint8Array,
    ...rest: unknown[]
  ) => {
    if (!disk.full) return (fs.writeFileSync as (...a: unknown[]) => void)(file, data, ...rest);
    const bytes = Buffer.from(data as string);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length >> 1));
    throw enospc();
  };
  const writeSync = (fd: number, buf: string | Uint8Array, ...rest: unknown[]) => {
    if (!disk.full) return (fs.writeSync as (...a: unknown[]) => number)(fd, buf, ...rest);
    const bytes = Buffer.from(buf as string);
    fs.writeSync(fd, bytes.subarray(0, bytes.length >> 1));
    throw enospc();
  };
  const mocked = { ...fs, writeFileSync, writeSync };
  return { ...mocked, default: mocked };
});

const stamp = (date: string) => {
  const r = fixtureResults();
  r.environment.date = date;
  return r;
};

describe("saving on a full disk", () => {
  it("latest.json keeps the previous results, whole", () => {
    const dir = mkdtempSync(join(tmpdir(), "gupstress-i12-atomic-"));
    saveResults(stamp("2025-01-01T00:00:00.000Z"), dir);
    disk.full = true;
    try {
      expect(() => saveResults(stamp("2025-02-02T00:00:00.000Z"), dir)).toThrow(/ENOSPC/);
    } finally {
      disk.full = false;
    }
    expect(loadResults(join(dir, "latest.json"))?.environment.date).toBe(
      "2025-01-01T00:00:00.000Z",
    );
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
    // Nothing half-written under any name.
    for (const f of readdirSync(dir)) expect(() => loadResults(join(dir, f))).not.toThrow();
  });

  it("report keeps the previous report.html and report.md, says so in one line, exit 3", async () => {
    const dir = mkdtempSync(join(tmpdir(), "gupstress-i12-atomic-report-"));
    const file = join(dir, "in.json");
    realFs.writeFileSync(file, JSON.stringify(fixtureResults()));
    const io = () => {
      const err: string[] = [];
      return { err, io: { out: () => {}, err: (s: string) => err.push(s), isTTY: false } };
    };
    const first = io();
    expect(await reportCommand(["--in", file, "--out", dir], first.io)).toBe(0);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    const md = readFileSync(join(dir, "report.md"), "utf8");
    const second = io();
    disk.full = true;
    let code: number;
    try {
      code = await reportCommand(["--in", file, "--out", dir], second.io);
    } finally {
      disk.full = false;
    }
    expect(code).toBe(3);
    expect(second.err.join("").trim().split("\n")).toHaveLength(1);
    expect(second.err.join("")).toMatch(/cannot write the report .*ENOSPC/);
    expect(readFileSync(join(dir, "report.html"), "utf8")).toBe(html);
    expect(readFileSync(join(dir, "report.md"), "utf8")).toBe(md);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([]);
  });
});
