#!/usr/bin/env node
import { answerFirst } from "./first-answer.js";

// What `mcp-bg-jobs` runs: the first answer of a stdio connection is given before the rest of the
// program (the MCP SDK, the engine) is loaded (see first-answer.ts); then the program runs as usual.
const argv = process.argv.slice(2);
const early = await answerFirst(argv, process.env);
const { main } = await import("./main.js");
main(argv, early);
