// Writing to stdout and stderr so that a failed write never changes a verdict
// by accident:
//  - stderr carries progress and one-line messages: a write that fails (EPIPE
//    from a reader gone, ENOSPC from 2>/dev/full) is ignored;
//  - stdout carries the results: EPIPE (`gupstress ... | head`) ends the
//    process with the exit code it already has, as before; any other failure
//    (ENOSPC, EIO) is a harness fault: one line on stderr and exit 3.
// Node reports a failed write to a file or a pipe either by throwing or by an
// 'error' event on the stream, later: both are handled here.

import { EXIT } from "./io.js";

let installed = false;
let stdoutError: NodeJS.ErrnoException | null = null;

/** Listen for write errors on both streams (once per process). */
export function guardStreams(): void {
  if (installed) return;
  installed = true;
  process.stdout.on("error", onStdoutError);
  process.stderr.on("error", () => {});
}

/** Progress and messages: best effort. */
export function writeErr(s: string): void {
  try {
    process.stderr.write(s);
  } catch {
    // stderr is gone or full: progress must not change the verdict.
  }
}

/** Results: a failure is remembered and turns the exit code into 3. */
export function writeOut(s: string): void {
  if (stdoutError !== null) return;
  try {
    process.stdout.write(s);
  } catch (e) {
    onStdoutError(e as NodeJS.ErrnoException);
  }
}

function onStdoutError(e: NodeJS.ErrnoException): void {
  // `gupstress ... | head` closes our stdout early: that is not an error.
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  if (stdoutError !== null) return;
  stdoutError = e;
  writeErr(`gupstress: cannot write the results to stdout (${e.message.split("\n")[0]})\n`);
  if (!isSignalExit(process.exitCode)) process.exitCode = EXIT.fault;
}

function isSignalExit(code: unknown): boolean {
  return code === EXIT.sigint || code === EXIT.sigterm;
}

/** The exit code to leave with: 3 when the results could not be written (unless interrupted). */
export function exitCodeAfterWrites(code: number): number {
  return stdoutError !== null && !isSignalExit(code) ? EXIT.fault : code;
}
