// One worker thread = one emulated CPU. Thin on purpose: attach to the shared
// page table and run the role the task names; the logic lives in src/.

import { type CpuReport, type CpuTask, runCpu } from "../src/run/driver.js";

export default function cpu(task: CpuTask): Promise<CpuReport> {
  return runCpu(task);
}

/** For the build's code cache (scripts/code-cache.mjs): run every start-up once. */
export { primeStartup as prime } from "../src/run/driver.js";
