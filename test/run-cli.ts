// Run the compiled CLI as a user would.

import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

export const CLI = join(import.meta.dirname, "..", "dist", "src", "cli.js");

export function gupstress(args: string[], timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

/**
 * Run the CLI in the background and send it signals as it runs: `send(sig,
 * atMs)` for each; resolves with its exit code, output, and the milliseconds
 * from the last signal to its exit.
 */
export async function gupstressSignalled(
  args: string[],
  signals: { signal: NodeJS.Signals; atMs: number }[],
): Promise<{ code: number | null; stdout: string; stderr: string; msAfterLast: number }> {
  const child = spawn(process.execPath, [CLI, ...args]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const closed = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  const started = Date.now();
  let last = started;
  for (const { signal, atMs } of signals) {
    await new Promise((r) => setTimeout(r, Math.max(0, started + atMs - Date.now())));
    last = Date.now();
    child.kill(signal);
  }
  const code = await closed;
  return { code, stdout, stderr, msAfterLast: Date.now() - last };
}
