import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

// The shape of src/ that README "How it works" draws, checked: who may import whom, no cycles, small
// files, no module-level mutable state. A change that breaks it should change the picture first.

const SRC = resolve(import.meta.dirname, "../../src");

/** Each part of src/ and the parts it may import (besides itself). Lower parts never import higher ones. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: [],
  files: [],
  log: [],
  "package-root": [],
  version: ["package-root"],
  text: ["domain", "files", "log"],
  process: ["domain", "files", "log", "package-root"],
  config: ["domain", "text", "process"],
  workers: ["domain", "text", "process", "package-root", "log"],
  store: ["domain", "files", "log"],
  executors: ["domain", "files", "log", "package-root", "text", "process"],
  engine: ["domain", "files", "log", "config", "text", "process", "workers", "store", "executors"],
  web: ["domain", "log", "version", "package-root", "config", "text", "engine"],
  mcp: ["domain", "log", "version", "config", "text", "engine"],
  serve: ["domain", "log", "version", "config", "text", "engine", "web", "mcp"],
  cli: ["domain", "log", "version", "package-root", "config", "text", "engine", "web", "mcp", "serve"],
};

/**
 * Where the program is composed: the one file above the engine that may import the parts the engine
 * is given (executors, workers), to build them and hand them in.
 */
const COMPOSITION_ROOT = "cli/compose.ts";
const COMPOSED = ["executors", "workers"];

/**
 * Files outside src/process/ that may still name an OS or read /proc in their code, and why: the
 * process layer is the seam (src/process/os.ts), and only it does either.
 */
const OS_NAMED: Record<string, string> = {
  "executors/slurm/slurm-input.ts": "a shell line run on a Slurm node (Linux), checking a pid's start time there",
};

/** Module-level `let` or mutable collections that are allowed, and why. */
const MODULE_STATE: Record<string, string> = {
  "log.ts": "stderr is one per process: once it is gone, logging stops",
  "text/terminal-render.ts": "the lazily imported terminal emulator module",
  "process/proc.ts": "this boot's id and this process's start time: asked of the OS once, when first needed",
  "workers/worker-main.ts": "a worker thread's own scans (the thread is its owner)",
  "process/limits.ts": "where each cgroup controller can be had for a job's limits: found once, when first needed",
  "executors/local/confine.ts":
    "what this kernel offers a sandbox: asked of the capture binary once, when first needed",
};

function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const partOf = (file: string) => relative(SRC, file).split("/")[0]?.replace(/\.ts$/, "") ?? "";

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)].map((m) =>
    resolve(dirname(file), (m[1] as string).replace(/\.js$/, ".ts")),
  );
}

const files = sources();
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe("the shape of src/", () => {
  it("knows every part of src/", () => {
    expect([...new Set(files.map(partOf))].filter((p) => !(p in MAY_IMPORT))).toEqual([]);
  });

  it("imports only downwards", () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        const from = partOf(file);
        const to = partOf(dep);
        const composing = relative(SRC, file) === COMPOSITION_ROOT && COMPOSED.includes(to);
        if (from !== to && !MAY_IMPORT[from]?.includes(to) && !composing)
          wrong.push(`${relative(SRC, file)} -> ${relative(SRC, dep)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("lets the layers above the engine use only its face (engine/index.ts)", () => {
    const face = join(SRC, "engine", "index.ts");
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      if (
        [
          "domain",
          "files",
          "log",
          "package-root",
          "version",
          "text",
          "process",
          "config",
          "workers",
          "store",
          "executors",
          "engine",
        ].includes(partOf(file))
      )
        continue;
      for (const dep of deps)
        if (partOf(dep) === "engine" && dep !== face) wrong.push(`${relative(SRC, file)} -> ${relative(SRC, dep)}`);
    }
    expect(wrong).toEqual([]);
  });

  it("has no import cycle", () => {
    const cycles: string[] = [];
    const state = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 1);
      stack.push(f);
      for (const d of graph.get(f) ?? []) {
        if (state.get(d) === 1)
          cycles.push([...stack.slice(stack.indexOf(d)), d].map((x) => relative(SRC, x)).join(" -> "));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("keeps each file under 300 lines", () => {
    const long = files
      .map((f) => [relative(SRC, f), readFileSync(f, "utf8").split("\n").length] as const)
      .filter(([, n]) => n > 300);
    expect(long).toEqual([]);
  });

  it("asks the operating system only through src/process/: nothing else reads /proc or names an OS", () => {
    const found = files.filter((f) => {
      if (partOf(f) === "process") return false;
      // The code, without its comments (they may say what an OS does).
      const code = readFileSync(f, "utf8").replace(/\/\*[\s\S]*?\*\/|(^|[^:"'`])\/\/.*$/gm, "$1");
      return /["'`]\/proc\b|\/proc\/|process\.platform/.test(code);
    });
    expect(found.map((f) => relative(SRC, f)).filter((f) => !(f in OS_NAMED))).toEqual([]);
  });

  it("keeps no mutable state at module level, but where it is named", () => {
    const found = files.filter((f) => {
      const text = readFileSync(f, "utf8");
      return /^(?:export )?(?:let|var) |^(?:export )?const \w+(?:: (?!Readonly)[^=]+)? = new (?:Map|Set|WeakMap)\b/m.test(
        text,
      );
    });
    expect(found.map((f) => relative(SRC, f)).filter((f) => !(f in MODULE_STATE))).toEqual([]);
  });
});
