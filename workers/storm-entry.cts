// What piscina loads for a storm CPU: a CommonJS file that import()s the real
// worker (storm.js), an ES module. piscina require()s its task file, and on
// Node >= 20.19 require() of an ES module aborts the whole process when the
// worker is terminated while it loads (tsconfig.cjs.json says more); import()
// is asynchronous, and a terminate cancels it cleanly. The CPU worker is
// built as CommonJS instead (it starts faster so); the storm's start-up is
// outside every measurement.

const worker = import("./storm.js");
// A failed load is reported by the task that awaits it, not as an unhandled rejection.
worker.catch(() => {});

type Storm = Awaited<typeof worker>["default"];

export = async function storm(task: Parameters<Storm>[0]): Promise<ReturnType<Storm>> {
  return (await worker).default(task);
};
