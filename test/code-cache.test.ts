// The CPU worker as one file with V8's code cache (scripts/bundle-worker.mjs,
// scripts/code-cache.mjs, workers/cpu-entry.cts): the bundle holds every
// module of the CommonJS build, a thread uses the cache made for its V8 and
// bundle and no other, and a refused cache still leaves a working worker.

import { createHash } from "node:crypto";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Worker } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { distFile } from "../src/run/stress.js";
import { gupstress } from "./run-cli.js";

const ENTRY = distFile("workers/cpu-entry.cjs");
const CJS = join(ENTRY, "..", "..", "cjs");
const BUNDLE = join(CJS, "workers", "cpu.bundle.js");
const META = JSON.parse(readFileSync(join(CJS, "workers", "cpu.bundle.json"), "utf8")) as {
  bundle: string;
  v8: string;
};

/** Load an entry in a fresh thread: what it did with the code cache, and whether it has a task function. */
function loadIn(entry: string): Promise<{ use: string; task: string }> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    const m = require(workerData);
    parentPort.postMessage({ use: m.codeCacheUse, task: typeof m.default });`;
  return new Promise((res, rej) => {
    const w = new Worker(code, { eval: true, workerData: entry });
    w.once("message", (m) => {
      void w.terminate();
      res(m);
    });
    w.once("error", rej);
  });
}

/** What Node itself loads of the CommonJS build: the worker, then every scenario (in a fresh thread). */
function loadedByNode(): Promise<string[]> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    require(workerData + "/workers/cpu.js");
    const { SCENARIO_LOADERS } = require(workerData + "/src/scenarios/loaders.js");
    Promise.all(Object.values(SCENARIO_LOADERS).map((load) => load())).then(() =>
      parentPort.postMessage(Object.keys(require.cache).filter((f) => f.startsWith(workerData))));`;
  return new Promise((res, rej) => {
    const w = new Worker(code, { eval: true, workerData: CJS });
    w.once("message", (m: string[]) => {
      void w.terminate();
      res(m.map((f) => relative(CJS, f).replaceAll("\\", "/")).sort());
    });
    w.once("error", rej);
  });
}

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the entry, the bundle and its caches, with `edit` applied to the copied files. */
function copy(edit: (dir: string) => void): string {
  const root = mkdtempSync(join(tmpdir(), "gupstress-cache-"));
  scratch.push(root);
  mkdirSync(join(root, "workers"));
  mkdirSync(join(root, "cjs", "workers"), { recursive: true });
  copyFileSync(ENTRY, join(root, "workers", "cpu-entry.cjs"));
  for (const f of readdirSync(join(CJS, "workers")))
    if (f.startsWith("cpu.bundle."))
      copyFileSync(join(CJS, "workers", f), join(root, "cjs", "workers", f));
  edit(join(root, "cjs", "workers"));
  return join(root, "workers", "cpu-entry.cjs");
}

describe("the CPU worker's bundle and code cache", () => {
  it("the bundle holds every module Node loads for the worker and its scenarios, once, named by the hash of the rest", async () => {
    const text = readFileSync(BUNDLE, "utf8");
    const [first, ...rest] = text.split("\n");
    const id = /^\/\/ gupstress cpu bundle ([0-9a-f]{32})/.exec(first)?.[1];
    expect(id).toBe(createHash("sha256").update(rest.join("\n")).digest("hex").slice(0, 32));
    expect(META.bundle).toBe(id);
    const inBundle = [...text.matchAll(/^\/\/ ---- (\S+)$/gm)].map((m) => m[1]).sort();
    const byNode = await loadedByNode();
    expect(new Set(inBundle).size).toBe(inBundle.length);
    expect(byNode.filter((f) => !inBundle.includes(f))).toEqual([]);
    // Beyond them: the whole registry, loadScenario's fallback for a name the lazy table lacks.
    expect(inBundle.filter((f) => !byNode.includes(f))).toEqual(["src/scenarios/index.js"]);
    expect(inBundle).toContain("src/scenarios/gup-vs-split.js");
  });

  it("a fresh thread uses the cache made for its V8 (none made by another Node)", async () => {
    const r = await loadIn(ENTRY);
    expect(r.task).toBe("function");
    if (META.v8 === process.versions.v8) expect(["default", "delayed"]).toContain(r.use);
    else expect(r.use).toBe("none");
  });

  it("a cache made for another bundle is not used, and the worker still loads", async () => {
    const entry = copy((dir) => {
      const file = join(dir, "cpu.bundle.js");
      const text = readFileSync(file, "utf8");
      // Another bundle of the very same length (V8 alone would take the cache).
      writeFileSync(
        file,
        text.replace(
          /^(\/\/ gupstress cpu bundle )([0-9a-f])/,
          (_, a, c) => a + (c === "0" ? "1" : "0"),
        ),
      );
    });
    expect(await loadIn(entry)).toEqual({ use: "none", task: "function" });
  });

  it.runIf(META.v8 === process.versions.v8)(
    "a cache V8 refuses leaves a working worker",
    async () => {
      const entry = copy((dir) => {
        for (const name of ["default", "delayed"]) {
          const file = join(dir, `cpu.bundle.${name}.cache`);
          const data = readFileSync(file);
          writeFileSync(file, data.subarray(0, data.length >> 1)); // header intact, data cut
        }
      });
      expect(await loadIn(entry)).toEqual({ use: "rejected", task: "function" });
    },
  );

  it("a run's JSON says what each CPU's thread did with the cache", () => {
    // Its verdict is not the point here (16 iterations may miss the race: exit 1).
    const r = gupstress(["stress", "--fix", "none", "--iterations", "16", "--json", "--quiet"]);
    const j = JSON.parse(r.stdout);
    expect(j.calibration.codeCache).toHaveLength(j.cpus);
    for (const use of j.calibration.codeCache)
      expect(META.v8 === process.versions.v8 ? ["default", "delayed"] : ["none"]).toContain(use);
  });
});
