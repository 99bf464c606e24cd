// gupstress: the command line. Each command is a module with a function
// (argv, io) -> exit code; this file only dispatches and wires signals.

import { EXIT, type Io } from "./io.js";
import { stressCommand } from "./stress-command.js";
import { exitCodeAfterWrites, guardStreams, writeErr, writeOut } from "./write.js";

export type { Io };

type Command = (argv: readonly string[], io: Io) => Promise<number>;

/**
 * `sync`: the command computes on the main thread without yielding, so a
 * signal handler could not run until it finished; it keeps Node's default
 * (Ctrl-C ends it at once) instead of ignoring Ctrl-C.
 */
const COMMANDS: Record<string, { help: string; run: () => Promise<Command>; sync?: boolean }> = {
  stress: {
    help: "catch the race on real threads; prove each fix closes it",
    run: async () => stressCommand,
  },
  explore: {
    help: "every interleaving on one thread: counterexamples with replay strings",
    run: async () => (await import("./explore-command.js")).exploreCommand,
    sync: true,
  },
  mutants: {
    help: "weaken each fix on purpose; check the explorer and stress catch it",
    run: async () => (await import("./explore-command.js")).mutantsCommand,
  },
  soak: {
    help: "rotate the clean fixes in both modes for a long time; totals",
    run: async () => (await import("./soak-command.js")).soakCommand,
  },
  list: {
    help: "every scenario with its fixes, their expected verdicts, and its mutants",
    run: async () => (await import("./list-command.js")).listCommand,
  },
  bench: {
    help: "what each fix costs: the interleaved benchmark suite (npm run bench)",
    run: async () => (await import("./bench-command.js")).benchCommand,
  },
  report: {
    help: "HTML report with inline SVG charts + Markdown summary of the latest bench",
    run: async () => (await import("./report-command.js")).reportCommand,
  },
  merge: {
    help: "combine campaign records (--out FILE.jsonl) of many shards into one verdict",
    run: async () => (await import("./merge-command.js")).mergeCommand,
  },
  gate: {
    help: "deterministic CI gate: explorer verdicts and mutants, no timing (--junit FILE)",
    run: async () => (await import("./gate-command.js")).gateCommand,
    sync: true,
  },
};

function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.help}`);
  return [
    "usage: gupstress <command> [flags]   (gupstress <command> --help for its flags)",
    "",
    ...rows,
  ].join("\n");
}

export async function main(
  argv: readonly string[],
  early: readonly NodeJS.Signals[] = [],
): Promise<number> {
  // stdout: EPIPE (`gupstress ... | head`) is not an error; ENOSPC is (write.ts).
  guardStreams();
  const io: Io = {
    out: writeOut,
    err: writeErr,
    isTTY: process.stderr.isTTY === true,
  };
  const [name, ...rest] = argv;
  if (name === undefined) {
    // No command is a usage error: the usage goes where errors go.
    io.err(`${usage()}\n`);
    return EXIT.usage;
  }
  if (name === "--help" || name === "help") {
    io.out(`${usage()}\n`);
    return EXIT.ok;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(
      `gupstress: unknown command '${name}' (accepted: ${Object.keys(COMMANDS).join(", ")})\n`,
    );
    return EXIT.usage;
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(sig === "SIGTERM" ? EXIT.sigterm : EXIT.sigint);
    controller.abort(sig);
  };
  if (!cmd.sync) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    // Signals that came while the modules loaded (src/cli.ts): the command starts stopped.
    for (const sig of early) onSignal(sig);
  }
  try {
    return await (await cmd.run())(rest, { ...io, signal: controller.signal });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Run as the process's command line: set the exit code, one line for a bug. */
export function runAsProcess(argv: readonly string[], early: readonly NodeJS.Signals[] = []): void {
  main(argv, early).then(
    (code) => {
      process.exitCode = exitCodeAfterWrites(code);
      // Stopped by a signal: what was measured is written (stdout and stderr
      // are synchronous on Linux for files, pipes and terminals); worker
      // threads still starting or being torn down must not hold the exit back.
      if (code === EXIT.sigint || code === EXIT.sigterm) {
        process.stdout.write("", () => process.exit(process.exitCode));
      }
    },
    (e: unknown) => {
      writeErr(
        `gupstress: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
      );
      process.exitCode = EXIT.fault;
    },
  );
}
