// One worker thread = one CPU of a hugetlb unshare storm (gupstress bench --storm).

import { type StormReport, type StormTask, stormCpu } from "../src/bench/storm.js";

export default function storm(task: StormTask): StormReport {
  return stormCpu(task);
}
