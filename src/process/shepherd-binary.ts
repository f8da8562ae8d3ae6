import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { SHEPHERD_PATH } from "./spawn-job.js";

const BUILD_SCRIPT = join(PACKAGE_ROOT, "scripts", "build-shepherd.mjs");

/**
 * Makes sure the shepherd binary exists, compiling it if an install skipped that step
 * (`--ignore-scripts`). Returns an error message when it cannot be had.
 */
export function ensureShepherd(): string | undefined {
  if (existsSync(SHEPHERD_PATH)) return undefined;
  try {
    execFileSync(process.execPath, [BUILD_SCRIPT], { stdio: ["ignore", "ignore", "inherit"] });
  } catch {
    return `cannot build ${SHEPHERD_PATH}: a C compiler (cc) is needed once, at install`;
  }
  return existsSync(SHEPHERD_PATH) ? undefined : `${SHEPHERD_PATH} is missing`;
}
