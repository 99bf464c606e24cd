// Run the compiled CLI as a user would.

import { spawnSync } from "node:child_process";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "..", "dist", "src", "cli.js");

export function gupstress(args: string[], timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}
