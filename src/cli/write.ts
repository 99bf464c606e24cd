// Writing to stdout and stderr so that a failed write never changes a verdict
// by accident. stderr carries progress and one-line messages: a write that
// fails (EPIPE from a reader gone, ENOSPC from 2>/dev/full) is ignored. Node
// reports a failed write to a file or a pipe either by throwing or by an
// 'error' event on the stream, later: both are handled here.

let installed = false;

/** Listen for write errors on stderr (once per process). */
export function guardStreams(): void {
  if (installed) return;
  installed = true;
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
