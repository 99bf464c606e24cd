// Issue 12, item 10: two benches into one directory: unique dated names, and
// a lock (bench.lock, the owner's pid) that refuses a second live bench and
// takes over the lock of a dead one.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { saveResults } from "../src/bench/files.js";
import { acquireLock, LockHeld } from "../src/bench/lock.js";
import { fixtureResults } from "./bench-fixture.js";
import { gupstress } from "./run-cli.js";

const fresh = () => mkdtempSync(join(tmpdir(), "gupstress-i12-lock-"));

/** A pid that was running a moment ago and no longer is. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", ""]);
  return r.pid as number;
}

describe("dated result names", () => {
  it("two saves of results with the same date keep two files", () => {
    const dir = fresh();
    const [a] = saveResults(fixtureResults(), dir);
    const [b] = saveResults(fixtureResults(), dir);
    expect(a).not.toBe(b);
    expect(readdirSync(dir).filter((f) => f.startsWith("bench-"))).toHaveLength(2);
  });
});

describe("bench.lock", () => {
  it("a live holder: bench refuses at once, one line naming its pid, exit 2", () => {
    const dir = fresh();
    writeFileSync(join(dir, "bench.lock"), `${process.pid}\n`);
    const t0 = Date.now();
    const r = gupstress(["bench", "--quick", "--json", "--out", dir], 20_000);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`pid ${process.pid}`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toBe("");
    expect(readFileSync(join(dir, "bench.lock"), "utf8")).toBe(`${process.pid}\n`);
  });

  it("a second taker in the same directory is refused; after release it is free", () => {
    const dir = fresh();
    const release = acquireLock(dir);
    expect(readFileSync(join(dir, "bench.lock"), "utf8").trim()).toBe(String(process.pid));
    // The same process asking again is treated as stale (its own leftover), so
    // ask from another, live pid's point of view: rewrite the lock as the parent's.
    writeFileSync(join(dir, "bench.lock"), `${process.ppid}\n`);
    expect(() => acquireLock(dir)).toThrow(LockHeld);
    writeFileSync(join(dir, "bench.lock"), `${process.pid}\n`);
    release();
    expect(existsSync(join(dir, "bench.lock"))).toBe(false);
    acquireLock(dir)();
  });

  it("a dead holder's lock is taken over", () => {
    const dir = fresh();
    const pid = deadPid();
    writeFileSync(join(dir, "bench.lock"), `${pid}\n`);
    const release = acquireLock(dir);
    expect(readFileSync(join(dir, "bench.lock"), "utf8").trim()).toBe(String(process.pid));
    release();
    expect(readdirSync(dir)).toEqual([]);
  });
});
