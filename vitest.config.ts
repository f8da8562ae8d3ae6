import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Tests start real processes and servers: keep the 2-core machine from being oversubscribed.
    maxWorkers: 2,
  },
});
