import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

// The folder of this package's package.json, found by walking up from this file: the same from
// dist/*.js (tsc output) and from the single-file bundle.
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "mcp-bg-jobs") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("mcp-bg-jobs: cannot find the package's package.json");
    dir = parent;
  }
}

/** The package's root folder (where package.json, build/ and scripts/ are). */
export const PACKAGE_ROOT = findRoot();
