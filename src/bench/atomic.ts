// Writing a file so that a reader never sees half of it: the text goes to a
// temporary file in the same directory, is flushed to disk (fsync), and is
// renamed over the target. A full disk or a crash leaves the old file whole.

import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/** Replace `file` with `text` (or bytes) atomically; on failure the old file is untouched and no temp file is left. */
export function writeFileAtomic(file: string, text: string | Uint8Array): void {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fd = -1;
  try {
    fd = openSync(tmp, "wx", 0o644);
    const buf = typeof text === "string" ? Buffer.from(text, "utf8") : text;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {}
    }
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  // The rename itself reaches the disk with the directory (best effort: not every system allows it).
  try {
    const d = openSync(dir, "r");
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {}
}

/**
 * Make `dir` (with its parents) and create and remove a file in it: null when
 * that works, else why not (one line). Checked before a long run, not after.
 */
export function writableDirProblem(dir: string): string | null {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.probe.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    closeSync(openSync(probe, "wx"));
    unlinkSync(probe);
    return null;
  } catch (e) {
    return (e as Error).message.split("\n")[0];
  }
}
