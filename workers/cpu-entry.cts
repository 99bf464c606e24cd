// What piscina loads for a CPU: the CPU worker as one file
// (dist/cjs/workers/cpu.bundle.js, scripts/bundle-worker.mjs), compiled with
// V8's code cache when the build left one that this Node and these V8 flags
// accept (scripts/code-cache.mjs). A fresh worker thread then loads the
// worker's code in 7 to 9 ms instead of about 15, and runs its start-up (the
// scenario's module, the warm-up's step code) without compiling it first.
//
// V8 takes a code cache only from the same V8 version with the same flags.
// The build writes two: one under V8's defaults, and one under the flags a
// run sets to delay optimisation (src/run/jit.ts), which CPU 0 may have set
// already when another CPU loads. The one to use is the one whose header has
// this V8's version and flag hashes, read from a code cache of a tiny script.
// No match (another Node, an older build): the bundle compiles as usual.

import fs = require("node:fs");
import path = require("node:path");
import vm = require("node:vm");

import type { CodeCacheUse, CpuReport, CpuTask } from "../src/run/driver.js";

const dir = path.join(__dirname, "..", "cjs", "workers");
const BUNDLE = path.join(dir, "cpu.bundle.js");
/** The code caches the build writes, by the V8 flags they were made under. */
const CODE_CACHES = ["default", "delayed"] as const;
type CodeCacheName = (typeof CODE_CACHES)[number];
const cacheFile = (name: CodeCacheName): string => path.join(dir, `cpu.bundle.${name}.cache`);

/** V8's version and flag hashes: uint32 1 and 3 of a code cache's header. */
function hashes(data: Uint8Array): string {
  if (data.byteLength < 16) return "";
  const v = new DataView(data.buffer, data.byteOffset, 16);
  return `${v.getUint32(4, true)}/${v.getUint32(12, true)}`;
}

/** A cache file: the bundle's id (32 characters), then V8's data. */
const ID_BYTES = 32;

function pickCache(id: string): { name: CodeCacheName; data: Buffer } | null {
  const here = hashes(new vm.Script("0").createCachedData());
  for (const name of CODE_CACHES) {
    let file: Buffer;
    try {
      file = fs.readFileSync(cacheFile(name));
    } catch {
      continue;
    }
    const data = file.subarray(ID_BYTES);
    if (file.toString("latin1", 0, ID_BYTES) === id && hashes(data) === here) return { name, data };
  }
  return null;
}

interface Loaded {
  exports: Record<string, unknown>;
  script: vm.Script | null;
  use: CodeCacheUse;
}

function load(): Loaded {
  // A build from before the bundle existed, or a partial one: the modules one by one.
  if (!fs.existsSync(BUNDLE))
    return { exports: require("../cjs/workers/cpu.js"), script: null, use: "no bundle" };
  const source = fs.readFileSync(BUNDLE, "utf8");
  // Its first line names it (scripts/bundle-worker.mjs); V8 checks a cache's source by length only.
  const id = /^\/\/ gupstress cpu bundle ([0-9a-f]{32})/.exec(source)?.[1];
  const cache = id === undefined ? null : pickCache(id);
  const script = new vm.Script(`(function (exports, require, module) {${source}\n})`, {
    filename: BUNDLE,
    cachedData: cache?.data,
  });
  const use: CodeCacheUse =
    cache === null ? "none" : script.cachedDataRejected === true ? "rejected" : cache.name;
  const mod = { exports: {} as Record<string, unknown> };
  script.runInThisContext()(mod.exports, require, mod);
  return { exports: mod.exports, script, use };
}

const loaded = load();
const cpu = loaded.exports.default as (task: CpuTask) => Promise<CpuReport>;

export = {
  // piscina imports a CommonJS task file through TypeScript's __importStar, which takes `default` as is only from a module marked so.
  __esModule: true,
  /** the CPU worker (piscina's task function); its report says what the code cache did */
  default: async (task: CpuTask): Promise<CpuReport> => ({
    ...(await cpu(task)),
    codeCache: loaded.use,
  }),
  /** runs the start-up code of every scenario and fix, for the code cache */
  prime: loaded.exports.prime,
  /** the code cache of the bundle as compiled so far (scripts/code-cache.mjs) */
  codeCache: (): Buffer | null => loaded.script?.createCachedData() ?? null,
  /** what this thread's load did with the code cache */
  codeCacheUse: loaded.use,
};
