// A run that the harness itself could not complete (a CPU crashed or hung):
// not a bug in gupstress and not a user mistake. Commands report it as one
// line and exit 3 (src/cli/fault.ts); the message carries the fault's detail.

export class HarnessFault extends Error {
  override name = "HarnessFault";
}
