// Issue 12, item 20: a geometry too big for a pmd names every flag that adds
// frames, not only --regions and --ptes.

import { describe, expect, it } from "vitest";
import { planStress } from "../src/cli/stress-command.js";

const base = ["--regions", "4096", "--ptes", "64", "--mode", "freerun", "--cpus", "64"];

describe("the geometry error", () => {
  it("--hold 62 fits at 64 CPUs, --hold 63 does not, and the message names every flag that counts", () => {
    expect(() => planStress([...base, "--hold", "62"])).not.toThrow();
    let message = "";
    try {
      planStress([...base, "--hold", "63"]);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/needs [\d,]+ frames, more than a pmd can name \(1,048,576\)/);
    expect(message).toContain("--regions 4096, --ptes 64, --cpus 64, --hold 63");
    expect(message).toMatch(/use fewer regions, ptes or cpus, or a smaller --hold$/);
    expect(message.split("\n")).toHaveLength(1);
  });
});
