import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // threaded runs use every core: keep test files from fighting over them
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
