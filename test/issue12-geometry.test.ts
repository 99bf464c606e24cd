// Issue 12, item 20: a geometry too big for a pmd names every flag that adds
// frames, not only --regions and --ptes.

import { describe, expect, it } from "vitest";
import { planStress } from "../src/cli/stress-command.js";

const base = ["--regions", "4096", "--ptes", "64", "--mode", "freerun", "--hold", "60"];

describe("the geometry error", () => {
  it("60 CPUs fit; 64 CPUs do not, and the message says --cpus and --hold count", () => {
    expect(() => planStress([...base, "--cpus", "60"])).not.toThrow();
    let message = "";
    try {
      planStress([...base, "--cpus", "64"]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/needs 1,048,768 frames, more than a pmd can name/);
    expect(message).toContain("--regions 4096 x (--ptes 64 + 1) x 3 = 798,720");
    expect(message).toContain("(--cpus 64 - 1) x --ptes 64 x (--hold 60 + 2) = 249,984");
    expect(message).toMatch(/use fewer regions, ptes or cpus, or a smaller --hold$/);
    expect(message.split("\n")).toHaveLength(1);
  });
});
