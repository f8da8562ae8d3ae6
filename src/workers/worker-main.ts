// The worker thread behind workers.ts: every caller's pattern is compiled and run here, every
// terminal rendered here, and the processes of jobs looked for here (a read of a process's
// environment can block while that process holds its memory lock), never on the server's own
// thread. Whatever they cost, the server goes on answering; a request that runs too long is cut
// off by terminating this worker.
import { parentPort } from "node:worker_threads";
import { listeningPortsByJob } from "../process/listening-ports.js";
import { findTreeProcesses } from "../process/process-tree.js";
import { LineScanner } from "../text/line-scanner.js";
import { compileSafeRegex, PatternError } from "../text/safe-regex.js";
import { type SearchedStream, searchStreams } from "../text/search-lines.js";
import { renderTerminal } from "../text/terminal-render.js";
import type { ScanStep, TextRequest } from "./protocol.js";

/** A wait's matching: its pattern and one scanner per stream. */
interface Session {
  re: RegExp;
  scanners: { name: "stdout" | "stderr"; scanner: LineScanner }[];
}

const sessions = new Map<number, Session>();

/** A step for a session this worker does not hold: its server re-opens it. */
class UnknownSession extends Error {}

// One step of a wait: new complete lines of each stream (at most `maxBytes` each), then the line
// being written (a prompt), once the scan has caught up.
function step(s: Session, final: boolean, maxBytes: number, progress: () => void): ScanStep {
  let hit: ScanStep["hit"] = null;
  for (const { name, scanner } of s.scanners) {
    scanner.scan(
      (line) => {
        progress();
        if (!s.re.test(line.text)) return false;
        hit = { stream: name, text: line.text };
        return true;
      },
      final,
      { maxBytes },
    );
    if (hit) break;
  }
  if (!hit) {
    for (const { name, scanner } of s.scanners) {
      const line = scanner.behind ? undefined : scanner.newPending();
      if (line && s.re.test(line.text)) {
        scanner.offset = line.end;
        hit = { stream: name, text: line.text };
        break;
      }
    }
  }
  return {
    hit,
    behind: s.scanners.some((x) => x.scanner.behind),
    offsets: s.scanners.map((x) => x.scanner.offset),
  };
}

// Tells the server's thread that the request `id` is making progress (at most every 100 ms); cheap
// enough to call for every line.
function heartbeat(id: number): () => void {
  let last = Date.now();
  return () => {
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    parentPort?.postMessage({ id, alive: true });
  };
}

async function handle(id: number, req: TextRequest): Promise<unknown> {
  switch (req.op) {
    case "open": {
      const re = compileSafeRegex(req.source);
      const scanners = req.streams.map((st) => ({ name: st.name, scanner: new LineScanner(st.path, st.from) }));
      sessions.set(req.sid, { re, scanners });
      return null;
    }
    case "step": {
      const s = sessions.get(req.sid);
      if (!s) throw new UnknownSession(`no scan session ${req.sid}`);
      return step(s, req.final, req.maxBytes, heartbeat(id));
    }
    case "close":
      sessions.delete(req.sid);
      return null;
    case "search": {
      const streams: SearchedStream[] = req.streams;
      return searchStreams(streams, compileSafeRegex(req.source), {
        ...req.opts,
        deadline: Date.now() + req.budgetMs,
        progress: heartbeat(id),
      });
    }
    case "render":
      return renderTerminal(req.text, req.cols, req.rows);
    case "tree":
      return [...(await findTreeProcesses(req.roots, new Set(req.skip)))];
    case "ports":
      return [
        ...(await listeningPortsByJob(
          await findTreeProcesses(req.roots),
          req.roots.map((r) => r.jobId),
        )),
      ];
  }
}

parentPort?.on("message", (msg: { id: number; req: TextRequest }) => {
  handle(msg.id, msg.req).then(
    (value) => parentPort?.postMessage({ id: msg.id, value }),
    (err: Error) =>
      parentPort?.postMessage({
        id: msg.id,
        error: {
          kind: err instanceof PatternError ? "pattern" : err instanceof UnknownSession ? "session" : "other",
          message: String(err?.message ?? err),
        },
      }),
  );
});
