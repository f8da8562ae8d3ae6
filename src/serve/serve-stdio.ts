import { serveStdio } from "@modelcontextprotocol/server/stdio";
import type { Config } from "../config/config.js";
import type { JobEngine } from "../engine/index.js";
import { log, quietly } from "../log.js";
import { feedListeners } from "../mcp/listen-feed.js";
import { chain } from "../mcp/resources.js";
import { TaskListenTransport } from "../mcp/tasks/task-listen.js";
import { McpWiring } from "../mcp/wiring.js";
import { onStop } from "./lifecycle.js";

/** What the server is told of what happened before it was loaded (src/cli/first-answer.ts). */
export interface EarlyStart {
  /** The id of the request already answered (its answer from the server is to be dropped). */
  answered?: string | number;
  /** stdin ended before a whole first line came: nothing will be asked. */
  stdinEnded?: boolean;
}

/**
 * Serves MCP on stdin/stdout until stdin closes or a SIGINT, SIGTERM or SIGHUP arrives; then kills
 * every job it runs (short grace; none with keep-jobs) and exits. A 2025-era client subscribes
 * with resources/subscribe; a 2026-era one with subscriptions/listen, served by the SDK, which
 * passes on the change notifications this server's instance sends (and drops those nobody asked for).
 */
export function serveOnStdio(
  jobs: JobEngine,
  config: Pick<Config, "keepJobs" | "notifyChannel" | "stateDir" | "maxRequestBytes">,
  early: EarlyStart = {},
): void {
  const wiring = new McpWiring(jobs, config);
  const { hub, tasks } = wiring;
  // Running jobs are watched for 2026-era listeners only while a listen stream is open.
  const feeds = new Set<() => void>();
  const wire = new TaskListenTransport(
    tasks,
    () => {
      for (const look of feeds) look();
    },
    config.maxRequestBytes,
    // However the connection closes (stdin's end, stdout gone, a transport error), the server stops
    // as on SIGTERM: it never falls silent with its jobs running.
    () => void stop("the stdio connection closed"),
  );
  // The first request was answered before this was loaded: the SDK still reads it (it negotiates the
  // era and learns the client from it), but its answer is not sent twice.
  if (early.answered !== undefined) wire.skipAnswer(early.answered);
  const handle = serveStdio(
    (ctx) => {
      if (ctx.era === "legacy") return wiring.server("legacy");
      const server = wiring.server("modern");
      const send = (uri: string) => quietly("a resource update", server.server.sendResourceUpdated({ uri }));
      const stops: (() => void)[] = [];
      let closed = false;
      // Started once the first request has been answered: it opens the state.
      setImmediate(() => {
        if (closed) return;
        const feed = feedListeners(jobs, hub, { active: () => wire.listens > 0, updated: send });
        feeds.add(feed.look);
        stops.push(() => {
          feeds.delete(feed.look);
          feed.stop();
        });
        stops.push(
          jobs.changes.onListChanged(() => {
            try {
              server.sendResourceListChanged();
            } catch (err) {
              log("warn", "resources/list_changed", err);
            }
          }),
        );
      });
      // The SDK may build an instance to probe the era and close it if the client turns out older.
      chain(server, "onclose", () => {
        closed = true;
        for (const stop of stops) stop();
      });
      return server;
    },
    {
      transport: wire,
      onerror: (err) => log("warn", "transport", err),
    },
  );
  const stop = onStop(
    async () => {
      wiring.stop();
      await jobs.shutdown();
      await handle.close();
    },
    () => jobs.abandon(),
  );
  process.stdin.on("end", () => void stop("stdin closed"));
  if (early.stdinEnded) void stop("stdin closed");
  process.stdin.on("close", () => void stop("stdin closed"));
  // stdout gone (host died): nothing can be answered any more.
  process.stdout.on("error", () => void stop("stdout closed"));
}
