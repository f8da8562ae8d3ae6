import { describe, expect, it } from "vitest";
import { startServer } from "../support/harness.js";
import { marker, processesMatching, waitFor } from "../support/helpers.js";

// A host that ends its session closes the server's stdin, then SIGTERM and SIGKILL follow within
// seconds (the SDK's client: 2 s apart). With a thousand jobs, the server's stop hands each job to
// its shepherd at once (a SIGTERM each: see orderStop), and the shepherds, taking their orders all
// at the same moment, must neither starve the server still giving them (a look at every process
// each, in portable mode: a thousand at once) nor be skipped because the server was killed first.

describe("a server's stop with a thousand jobs", () => {
  for (const portable of [false, true]) {
    it(`ends every one of them though the host kills the server moments later${portable ? " (portable mode)" : ""}`, async () => {
      const m = marker();
      const s = await startServer({
        env: { MCP_BG_MAX_JOBS: "2000", ...(portable ? { MCP_BG_PORTABLE: "1" } : {}) },
      });
      for (let i = 0; i < 1000; i++) await s.ok("execute_command", { command: `sleep 1000; : ${m}` });
      expect(processesMatching(m).length).toBeGreaterThanOrEqual(1000);
      await s.close();
      await waitFor(() => processesMatching(m).length === 0, 60_000, 200);
    }, 240_000);
  }
});
