// One bench at a time per results directory: `bench.lock` is created with
// O_EXCL and holds the owner's pid. A lock whose pid is no longer running
// (a bench killed by a second Ctrl-C, a crash) is taken over; a live one is
// refused with its pid.

import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "bench.lock";

/** Another live process holds the directory's lock. */
export class LockHeld extends Error {
  override name = "LockHeld";
  constructor(
    readonly pid: number,
    readonly file: string,
  ) {
    super(`another bench${pid > 0 ? ` (pid ${pid})` : ""} is writing to this directory (${file})`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readPid(file: string): { text: string; pid: number | null } | null {
  try {
    const text = readFileSync(file, "utf8");
    const pid = /^\d+\s*$/.test(text) ? Number(text.trim()) : null;
    return { text, pid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * Take `dir`'s lock; returns the function that gives it back (also called at
 * process exit). Throws LockHeld when a live process holds it.
 */
export function acquireLock(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o644);
      try {
        writeSync(fd, `${process.pid}\n`);
      } finally {
        closeSync(fd);
      }
      return holding(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const seen = readPid(file);
    if (seen === null) continue; // released meanwhile: try again
    // A lock in the middle of being written holds no pid yet: it is live.
    if (seen.text === "" || (seen.pid !== null && seen.pid !== process.pid && alive(seen.pid))) {
      throw new LockHeld(seen.pid ?? 0, file);
    }
    // Stale: move it aside (only one taker can), and make sure it was the stale one.
    const aside = `${file}.stale.${process.pid}.${randomBytes(4).toString("hex")}`;
    try {
      renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    const moved = readPid(aside);
    if (moved !== null && moved.text !== seen.text) {
      // Someone took it over between our read and our rename: give it back.
      try {
        renameSync(aside, file);
      } catch {}
      throw new LockHeld(moved.pid ?? 0, file);
    }
    try {
      unlinkSync(aside);
    } catch {}
  }
  throw new LockHeld(readPid(file)?.pid ?? 0, file);
}

function holding(file: string): () => void {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off("exit", release);
    try {
      if (readPid(file)?.pid === process.pid) unlinkSync(file);
    } catch {
      // The directory is gone or unreadable: nothing left to release.
    }
  };
  process.on("exit", release);
  return release;
}
