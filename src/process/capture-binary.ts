import { existsSync } from "node:fs";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";

/** This machine as the package names its prebuilt binaries: process.platform-process.arch. */
export const TARGET = `${process.platform}-${process.arch}`;
/** Compiled on this machine from native/shepherd.c (a clone of the project, or no prebuilt for it). */
const BUILT = join(PACKAGE_ROOT, "build", "shepherd");
/** The build the package carries for this machine (made by `npm pack`: scripts/build-prebuilt.mjs). */
const PREBUILT = join(PACKAGE_ROOT, "prebuilt", TARGET, "shepherd");

/**
 * Path of the capture binary (native/shepherd.c: each job's capture process, the spawner, and the
 * process questions of helper-os.ts): build/shepherd when it was compiled here, so that in a clone
 * an edited shepherd.c always wins; else the prebuilt one for this machine; else build/shepherd,
 * which compiling would make.
 */
export const SHEPHERD_PATH = existsSync(BUILT) || !existsSync(PREBUILT) ? BUILT : PREBUILT;
