// What every command gets and gives back: writers for stdout and stderr, a
// signal for Ctrl-C, and one table of exit codes.

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** stderr is a terminal: progress may redraw one line */
  isTTY: boolean;
  /** aborted on SIGINT / SIGTERM (the reason is the signal's name) */
  signal?: AbortSignal;
}

/** Exit codes shared by every command. */
export const EXIT = {
  ok: 0,
  mismatch: 1,
  usage: 2,
  fault: 3,
  /** no verdict either way: the run did not show it reached the race window */
  inconclusive: 4,
  sigint: 130,
  sigterm: 143,
} as const;

/** The exit code for a run stopped by a signal. */
export function signalExit(reason: string): number {
  return reason === "SIGTERM" ? EXIT.sigterm : EXIT.sigint;
}
