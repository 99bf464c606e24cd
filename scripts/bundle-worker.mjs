// Joins the CPU worker's CommonJS build (dist/cjs/, from tsconfig.cjs.json)
// into one file, dist/cjs/workers/cpu.bundle.js, that workers/cpu-entry.cts
// loads with V8's code cache (scripts/code-cache.mjs writes it).
//
// Why one file: a fresh worker thread loads its 33 modules in about 15 ms,
// most of it in Node's module loader (resolving, stat-ing and reading each
// file), not in V8 compiling them. One file takes 11 to 13 ms, and with its
// code cache 7 to 9 ms; the cache also spares compiling the start-up's code.
// Measured on the 2-core development machine, Node 20.
//
// The first line carries a hash of the rest (the bundle's id): a code cache
// is used only with the bundle it was made from.
//
// Every module reachable from workers/cpu.js by a relative require() goes in,
// as a function of (exports, require, module), in the order first reached;
// it runs on its first require(), as under Node. Each module's relative
// specifiers are resolved here, at build time; any other require (node:
// builtins) goes to Node's. The dynamic scenario imports (loaders.ts) compile
// to require() calls, so every scenario is in, and each still runs only when
// loaded.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../dist/src/bench/atomic.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const cjs = resolve(root, "dist/cjs");
const entry = resolve(cjs, "workers/cpu.js");
const out = resolve(cjs, "workers/cpu.bundle.js");

const REQUIRE = /\brequire\("(\.{1,2}\/[^"]+)"\)/g;

/** path -> { id, source, deps: specifier -> id } */
const modules = new Map();

function visit(file) {
  const known = modules.get(file);
  if (known) return known.id;
  const source = readFileSync(file, "utf8").replace(/^\/\/# sourceMappingURL=.*$/m, "");
  const mod = { id: modules.size, file, source, deps: {} };
  modules.set(file, mod);
  for (const [, spec] of source.matchAll(REQUIRE)) {
    if (Object.hasOwn(mod.deps, spec)) continue;
    mod.deps[spec] = visit(resolve(dirname(file), spec));
  }
  return mod.id;
}

visit(entry);

const parts = ['"use strict";', "const __modules = ["];
for (const m of modules.values()) {
  parts.push(
    `// ---- ${relative(cjs, m.file)}`,
    `[${JSON.stringify(m.deps)}, function (exports, require, module) {`,
    m.source,
    "}],",
  );
}
parts.push(
  "];",
  "const __loaded = new Array(__modules.length);",
  "function __require(id) {",
  "  const done = __loaded[id];",
  "  if (done !== undefined) return done.exports;",
  "  const [deps, body] = __modules[id];",
  "  const module = { exports: {} };",
  "  __loaded[id] = module;",
  "  body.call(module.exports, module.exports, (spec) => (Object.hasOwn(deps, spec) ? __require(deps[spec]) : require(spec)), module);",
  "  return module.exports;",
  "}",
  "module.exports = __require(0);",
  "",
);

// The first line names this text by its hash: a code cache is used only with
// the text it was made from (V8 itself checks the length only).
const body = parts.join("\n");
const id = createHash("sha256").update(body).digest("hex").slice(0, 32);
const text = `// gupstress cpu bundle ${id}: written by scripts/bundle-worker.mjs, do not edit\n${body}`;
writeFileAtomic(out, text);
