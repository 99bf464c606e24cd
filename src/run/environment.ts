// The environment block every result carries (PRIOR-ART.md idea 6).

import { execFileSync } from "node:child_process";
import { availableParallelism, cpus, platform, release } from "node:os";

export interface Environment {
  node: string;
  v8: string;
  cpuModel: string;
  cores: number;
  platform: string;
  date: string;
  commit: string | null;
}

let commit: string | null | undefined;

function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  try {
    commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 2000,
    })
      .toString()
      .trim();
  } catch {
    commit = null;
  }
  return commit;
}

export function environment(): Environment {
  return {
    node: process.version,
    v8: process.versions.v8,
    cpuModel: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    platform: `${platform()} ${release()}`,
    date: new Date().toISOString(),
    commit: gitCommit(),
  };
}
