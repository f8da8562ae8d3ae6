import type { McpServer } from "@modelcontextprotocol/server";
import type { Config } from "../config/config.js";
import type { JobsForTools } from "../engine/index.js";
import { ResourceHub } from "./resource-hub.js";
import { createServer } from "./server.js";
import { TaskRuntime } from "./tasks/task-runtime.js";

/**
 * What every MCP connection of one server shares, over stdio and HTTP alike: the resource hub that
 * serves 2025-era subscriptions, the runtime of MCP tasks, and how a server instance is built for a
 * connection of either protocol era.
 */
export class McpWiring {
  readonly hub: ResourceHub;
  readonly tasks: TaskRuntime;

  constructor(
    private readonly jobs: JobsForTools,
    private readonly config: Pick<Config, "keepJobs" | "notifyChannel" | "stateDir">,
  ) {
    this.hub = new ResourceHub(jobs);
    this.tasks = new TaskRuntime(jobs, config.stateDir);
  }

  /**
   * A server instance for one connection: a 2025-era one subscribes through the hub; a 2026-era one
   * only declares subscriptions (its transport serves `subscriptions/listen`).
   */
  server(era: "legacy" | "modern"): McpServer {
    return createServer(this.jobs, {
      keepJobs: this.config.keepJobs,
      channel: this.config.notifyChannel,
      tasks: this.tasks,
      era,
      ...(era === "legacy" ? { hub: this.hub } : { subscribeElsewhere: true }),
    });
  }

  /** Stops the tasks (the next server takes up their waits). */
  stop(): void {
    this.tasks.stop();
  }
}
