// Reading a results file without trusting it: a regular file of bounded size
// (a device, a FIFO or a huge file would block the main thread, and with it
// Ctrl-C). Such a problem is a ResultsFileError whose message is one line.

import { closeSync, constants, fstatSync, openSync, readSync, statSync } from "node:fs";
import type { BenchResults } from "../report/results.js";

/** A results file that cannot be used; the message is one line. */
export class ResultsFileError extends Error {
  override name = "ResultsFileError";
}

/** Results files are a few hundred KiB; anything past this is not one. */
export const MAX_RESULTS_BYTES = 64 * 1024 * 1024;

/** Read and check a results file; null when it does not exist. Throws ResultsFileError. */
export function readResultsFile(file: string): BenchResults | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new ResultsFileError(`${file}: cannot read it (${code ?? String(e)})`);
  }
  checkKind(file, st);
  let text: string;
  let fd = -1;
  try {
    // O_NONBLOCK: a FIFO swapped in after the stat must not block the open.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const fst = fstatSync(fd);
    checkKind(file, fst);
    const buf = Buffer.alloc(fst.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    text = buf.subarray(0, got).toString("utf8");
  } catch (e) {
    if (e instanceof ResultsFileError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ResultsFileError(`${file}: cannot read it (${code ?? String(e)})`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  const data = JSON.parse(text) as BenchResults;
  if (data?.tool !== "gupstress-bench") throw new Error(`${file} is not a gupstress bench result`);
  return data;
}

function checkKind(file: string, st: { isFile(): boolean; isDirectory(): boolean; size: number }) {
  if (st.isDirectory()) throw new ResultsFileError(`${file} is a directory, not a results file`);
  if (!st.isFile()) {
    throw new ResultsFileError(
      `${file} is not a regular file (a device, FIFO or socket cannot be a results file)`,
    );
  }
  if (st.size > MAX_RESULTS_BYTES) {
    throw new ResultsFileError(
      `${file} is ${(st.size / 2 ** 20).toFixed(0)} MiB, more than a results file can be (${MAX_RESULTS_BYTES / 2 ** 20} MiB)`,
    );
  }
}
