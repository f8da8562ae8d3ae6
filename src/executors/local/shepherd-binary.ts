import { execFile, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../../package-root.js";
import { SHEPHERD_PATH, TARGET } from "../../process/capture-binary.js";
import { INSTALL_CC, noJobsHere } from "../../process/platform.js";

export { SHEPHERD_PATH } from "../../process/capture-binary.js";

const BUILD_SCRIPT = join(PACKAGE_ROOT, "scripts", "build-shepherd.mjs");

const WHY_NOT_HERE =
  "the server starts, names, watches and kills a job's processes through POSIX process groups and signals, " +
  "and asks Linux's /proc or macOS's sysctl and libproc about them (through its capture process, native/shepherd.c)";

/**
 * Whether this machine can run jobs: Linux or macOS, and a capture process (compiled at the check if the install
 * skipped that step: `--ignore-scripts`, npm 11's allowScripts, pnpm) that starts here. Owned by the
 * local executor; every tool call answers with `reason` when it is set (src/mcp/tool-result.ts).
 */
export class JobSupport {
  /** Why this server cannot run jobs, in one line, or undefined when it can (as far as is known yet). */
  reason: string | undefined;

  /**
   * Checks, once at the server's start. The server starts either way; `report` gets the one-line reason
   * when jobs cannot run. Whether the binary starts is learnt in the background, a few milliseconds
   * later, so that no start and no tool call waits for it (a tool call before then that starts a job
   * fails to spawn it all the same).
   */
  check(report: (reason: string) => void): void {
    const set = (reason: string) => {
      this.reason = `mcp-bg-jobs: ${reason}`;
      report(reason);
    };
    const missing = findMissing();
    if (missing) set(missing);
    else void whyNotStarting().then((reason) => reason && set(reason));
  }
}

function findMissing(): string | undefined {
  const elsewhere = noJobsHere(WHY_NOT_HERE);
  if (elsewhere) return elsewhere;
  if (existsSync(SHEPHERD_PATH)) return undefined;
  // The build script says in one line what is missing (its last line on stderr).
  const built = spawnSync(process.execPath, [BUILD_SCRIPT], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (existsSync(SHEPHERD_PATH)) return undefined;
  const said = `${built.error?.message ?? ""}\n${built.stderr ?? ""}`;
  const line = said
    .trim()
    .split("\n")
    .pop()
    ?.replace(/^mcp-bg-jobs: /, "");
  return line || `no capture process for ${TARGET}: ${INSTALL_CC} and start the server again`;
}

async function whyNotStarting(): Promise<string | undefined> {
  // Without arguments it prints its usage and exits 2; one built for another libc or architecture
  // does not start (ENOENT: no such loader; ENOEXEC), or its loader exits 126/127.
  const failure = await new Promise<string | undefined>((resolve) => {
    execFile(SHEPHERD_PATH, [], { timeout: 10_000 }, (err) => {
      const e = err as (Error & { code?: unknown; signal?: string | null }) | null;
      if (!e) return resolve(undefined);
      if (typeof e.code === "string") return resolve(e.code);
      if (e.signal) return resolve(`killed by ${e.signal}`);
      if (e.code === 126 || e.code === 127) return resolve(`exit ${e.code}`);
      resolve(undefined);
    });
  });
  if (!failure) return undefined;
  return (
    `the capture process ${SHEPHERD_PATH} does not run on this machine (${failure}): ` +
    `${INSTALL_CC} and run \`node ${BUILD_SCRIPT} --force\``
  );
}
