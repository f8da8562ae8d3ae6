#!/usr/bin/env node
// A transparent stdio wrapper between an MCP host and the server, that writes down every JSON-RPC
// message each way, so that a test sees what a real host sent (which protocol era it opened, what it
// declared, which calls it made) without changing the server.
//
//   node mcp-tap.mjs LOG -- COMMAND [ARGS...]
//
// LOG gets one JSON line per message: {"t": <ms since epoch>, "dir": "in" | "out", "msg": <the message>}
// ("in": host to server, "out": server to host; a line that is not JSON is kept as {"raw": "..."}),
// a first line {"dir": "start", "pid": <this wrapper>, "server": <the server's pid>} and, when the server
// exits while this wrapper lives, a last line {"dir": "exit", "code", "signal"}; a signal the host sends
// is written down ({"dir": "signal", "signal"}) before it is passed on. (A SIGKILL cannot be: a host that
// sends one leaves no "exit" line, and the server, then without its wrapper, goes on to its own end.)
// The server's stderr goes to LOG.stderr. Its exit code is this one's; stdin closing and SIGTERM,
// SIGINT, SIGHUP reach it as they would have. A host that SIGKILLs this wrapper closes the server's
// stdin with it (the pipe's writer is gone), which stops the server as a host's exit would.
import { spawn } from "node:child_process";
import { appendFileSync, openSync } from "node:fs";

const [log, dashes, command, ...args] = process.argv.slice(2);
if (!log || dashes !== "--" || !command) {
  process.stderr.write("usage: node mcp-tap.mjs LOG -- COMMAND [ARGS...]\n");
  process.exit(2);
}

const child = spawn(command, args, { stdio: ["pipe", "pipe", openSync(`${log}.stderr`, "a")] });
appendFileSync(log, `${JSON.stringify({ t: Date.now(), dir: "start", pid: process.pid, server: child.pid })}\n`);

const note = (dir, line) => {
  if (line.trim() === "") return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    msg = { raw: line };
  }
  appendFileSync(log, `${JSON.stringify({ t: Date.now(), dir, msg })}\n`);
};

/** Splits a stream into lines for `note`, passing every byte on unchanged. */
const tee = (from, to, dir) => {
  let pending = "";
  from.on("data", (chunk) => {
    to.write(chunk);
    pending += chunk.toString("utf8");
    let nl = pending.indexOf("\n");
    while (nl >= 0) {
      note(dir, pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      nl = pending.indexOf("\n");
    }
  });
  from.on("end", () => {
    note(dir, pending);
    if (to !== process.stdout) to.end();
  });
};

tee(process.stdin, child.stdin, "in");
tee(child.stdout, process.stdout, "out");
child.stdin.on("error", () => {});
process.stdout.on("error", () => child.stdin.end());

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"])
  process.on(signal, () => {
    appendFileSync(log, `${JSON.stringify({ t: Date.now(), dir: "signal", signal })}\n`);
    child.kill(signal);
  });

child.on("exit", (code, signal) => {
  appendFileSync(log, `${JSON.stringify({ t: Date.now(), dir: "exit", code, signal })}\n`);
  process.exit(code ?? 128);
});
