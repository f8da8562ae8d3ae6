import { describe, expect, it } from "vitest";
import { loadConfig, settingsHelp } from "../../src/config/config.js";
import { SETTINGS } from "../../src/config/settings.js";

// Each setting's default lives in its row of the settings table: the configuration and --help are
// both built from it, so they cannot disagree.

describe("the settings table", () => {
  it("gives each setting its default, and --help says the same", () => {
    const config = loadConfig(new Map(), { HOME: "/home/someone" }, "/work") as unknown as Record<string, unknown>;
    const help = settingsHelp();
    for (const s of SETTINGS) {
      const value = config[s.key];
      expect(help, s.flag).toContain(`${s.env.padEnd(26)} ${s.help} (${s.shown})`);
      // A plain number or word as default is shown as itself.
      if (typeof value === "number" && /^\d+$/.test(s.shown)) expect(String(value), s.flag).toBe(s.shown);
      if (typeof value === "string" && !s.shown.includes(" ") && !s.shown.startsWith("$"))
        expect(value, s.flag).toBe(s.shown);
    }
    expect(config.stateDir).toBe("/home/someone/.local/state/mcp-bg-jobs");
    expect(config.workingDir).toBe("/work");
    expect(new Set(SETTINGS.map((s) => s.key)).size).toBe(SETTINGS.length);
  });
});
