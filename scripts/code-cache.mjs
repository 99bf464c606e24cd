// Writes the CPU bundle's code caches (workers/cpu-entry.cts says what they
// are for): in a fresh worker thread, load the bundle, run every scenario's
// start-up under every fix (primeStartup in src/run/driver.ts), and keep what
// V8 compiled. Twice: under V8's default flags, then under the flags a run
// sets to delay optimisation (src/run/jit.ts); V8's flags are the process's
// and cannot be unset, so in that order. Each file is the bundle's id (its
// first line) followed by V8's data; each is written whole or not at all.
// cpu.bundle.json says which bundle, Node and V8 they were made for.

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { writeFileAtomic } from "../dist/src/bench/atomic.js";
import { defaultConfig } from "../dist/src/run/config.js";
import { delayTurbofan } from "../dist/src/run/jit.js";
import { geometryFor } from "../dist/src/run/stress.js";
import { SCENARIO_NAMES } from "../dist/src/scenarios/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dir = resolve(root, "dist/cjs/workers");
const entry = resolve(root, "dist/workers/cpu-entry.cjs");
const id = /^\/\/ gupstress cpu bundle ([0-9a-f]{32})/.exec(
  readFileSync(resolve(dir, "cpu.bundle.js"), "utf8"),
)?.[1];
if (id === undefined) {
  console.error(
    "code-cache: dist/cjs/workers/cpu.bundle.js has no id line: run scripts/bundle-worker.mjs",
  );
  process.exit(1);
}

const runs = SCENARIO_NAMES.map((name) => {
  const config = defaultConfig(name);
  return { config, geo: geometryFor(config) };
});

const PRIME = `
const { parentPort, workerData } = require("node:worker_threads");
const entry = require(workerData.entry);
entry.prime(workerData.runs).then((trials) => parentPort.postMessage({ trials, data: entry.codeCache() }));
`;

function produce() {
  return new Promise((res, rej) => {
    const w = new Worker(PRIME, { eval: true, workerData: { entry, runs } });
    w.once("message", (m) => {
      w.terminate();
      if (m.data === null) rej(new Error("the bundle was not loaded (no cpu.bundle.js?)"));
      else if (m.trials === 0) rej(new Error("primeStartup ran no warm-up trial"));
      else res(m.data);
    });
    w.once("error", rej);
    w.once("exit", (code) => rej(new Error(`the priming thread exited (${code}) without a cache`)));
  });
}

const write = (name, data) => writeFileAtomic(resolve(dir, name), data);

const cache = (data) => Buffer.concat([Buffer.from(id, "latin1"), data]);

try {
  write("cpu.bundle.default.cache", cache(await produce()));
  const flags = delayTurbofan();
  write("cpu.bundle.delayed.cache", cache(await produce()));
  // For people and tests: which bundle, Node and V8 the caches are for.
  const made = {
    bundle: id,
    node: process.version,
    v8: process.versions.v8,
    flags: { default: [], delayed: flags },
  };
  write("cpu.bundle.json", `${JSON.stringify(made, null, 2)}\n`);
} catch (e) {
  console.error(`code-cache: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
