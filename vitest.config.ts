import { defineConfig } from "vitest/config";

// The package test (npm pack: tsc, esbuild, three C compilers; then npm install) is a burst of CPU that
// would slow the timing-sensitive tests beside it: it runs after them, on its own.
const PACKAGE_TEST = "test/e2e/package.test.ts";
// The agent hosts (hundreds of MB of Node and native programs each) likewise run after the rest.
const HOSTS_TESTS = "test/hosts/**/*.test.ts";
// The end-to-end tests run a second time in portable mode (MCP_BG_PORTABLE=1: Linux with only what macOS
// has; README: Platforms), after the first run. Slurm jobs run on a cluster's (Linux) nodes: not again.
const E2E_TESTS = "test/e2e/**/*.test.ts";
const SLURM_TEST = "test/e2e/slurm.test.ts";

export default defineConfig({
  test: {
    // What the tests run in this process reaches (the engine, the tools, text, process): the built
    // binary the end-to-end tests start is not measured. One summary line per file, and the total.
    coverage: {
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text-summary"],
      reportsDirectory: "test-output/coverage",
    },
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Tests start real processes and servers: keep the 2-core machine from being oversubscribed.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "tests",
          include: ["test/**/*.test.ts"],
          exclude: [PACKAGE_TEST, HOSTS_TESTS],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "portable",
          include: [E2E_TESTS],
          exclude: [PACKAGE_TEST, SLURM_TEST],
          env: { MCP_BG_PORTABLE: "1" },
          sequence: { groupOrder: 1 },
        },
      },
      { extends: true, test: { name: "hosts", include: [HOSTS_TESTS], sequence: { groupOrder: 2 } } },
      { extends: true, test: { name: "package", include: [PACKAGE_TEST], sequence: { groupOrder: 3 } } },
    ],
  },
});
