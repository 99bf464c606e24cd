// The one way a command reports a harness fault (a CPU crashed or hung while
// a suite ran): one line on stderr, exit 3, no stack. Anything else is thrown on.

import { HarnessFault } from "../run/harness-fault.js";
import { EXIT } from "./io.js";

export function faultExit(command: string, err: (s: string) => void, e: unknown): number {
  if (!(e instanceof HarnessFault)) throw e;
  err(`gupstress ${command}: harness fault: ${e.message.replace(/\s*\n\s*/g, " ")}\n`);
  return EXIT.fault;
}
