// What piscina loads for a storm CPU: a CommonJS file that import()s the real
// worker (storm.js). Why: see cpu-entry.cts.

const worker = import("./storm.js");
worker.catch(() => {});

type Storm = Awaited<typeof worker>["default"];

export = async function storm(task: Parameters<Storm>[0]): Promise<ReturnType<Storm>> {
  return (await worker).default(task);
};
