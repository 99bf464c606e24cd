// The explorer's snapshots (src/explore/model.ts): the code made per model to
// copy every CPU-local field must give back exactly the state it took, for
// every scenario, or the pruned search would count states it never reached.

import { describe, expect, it } from "vitest";
import { KernelModel } from "../src/explore/model.js";
import { Rng } from "../src/run/random.js";
import { resolveFix, SCENARIOS } from "../src/scenarios/index.js";

describe("explorer snapshots", () => {
  it("restore gives back the state save took, field for field, in every scenario", () => {
    for (const scenario of SCENARIOS) {
      for (const decl of scenario.fixes) {
        const model = new KernelModel({
          scenario,
          fix: resolveFix(scenario, decl.name),
          cpus: 3,
          ptes: 2,
          bystanders: 1,
        });
        const rng = new Rng(7, 1);
        const en: number[] = [];
        for (let trial = 0; trial < 4; trial++) {
          model.reset();
          // a random prefix, then a snapshot, then a random suffix, then back
          for (let k = 0; k < 6 + trial * 4; k++) {
            const n = model.enabled(en);
            if (n === 0) break;
            model.apply(en[rng.below(n)]);
          }
          const snap = (model.save() as Int32Array).slice();
          const hash = model.hash();
          const enabledThen = en.slice(0, model.enabled(en));
          let moved = false;
          for (let k = 0; k < 12; k++) {
            const n = model.enabled(en);
            if (n === 0) break;
            model.apply(en[rng.below(n)]);
            moved = true;
          }
          if (moved) expect(model.save(), `${scenario.name} ${decl.name}`).not.toEqual(snap);
          model.restore(snap);
          expect(model.save(), `${scenario.name} ${decl.name}`).toEqual(snap);
          expect(model.hash()).toBe(hash);
          expect(en.slice(0, model.enabled(en))).toEqual(enabledThen);
          // a snapshot written over another one's buffer is the same snapshot
          const reuse = new Int32Array(snap.length).fill(-1);
          expect(model.save(reuse)).toBe(reuse);
          expect(reuse).toEqual(snap);
        }
      }
    }
  });
});
