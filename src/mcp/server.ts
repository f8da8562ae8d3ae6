import { McpServer } from "@modelcontextprotocol/server";
import type { JobsForTools } from "../engine/index.js";
import { log } from "../log.js";
import { VERSION } from "../version.js";
import { CHANNEL_CAPABILITY, CHANNEL_INSTRUCTIONS, channelNotifier } from "./channel.js";
import type { ResourceHub } from "./resource-hub.js";
import { chain, registerJobResources, serveSubscriptions } from "./resources.js";
import { serveTasks } from "./tasks/serve-tasks.js";
import type { TaskRuntime } from "./tasks/task-runtime.js";
import { registerExecuteCommandTool } from "./tools/execute-command.js";
import { registerGetJobOutputTool } from "./tools/get-job-output.js";
import { registerGetJobStatusTool } from "./tools/get-job-status.js";
import { registerInteractWithJobTool } from "./tools/interact-with-job.js";
import { registerKillJobTool } from "./tools/kill-job.js";
import { registerListJobsTool } from "./tools/list-jobs.js";
import { registerSearchJobOutputTool } from "./tools/search-job-output.js";
import { registerTailJobOutputTool } from "./tools/tail-job-output.js";
import { registerWaitForJobTool } from "./tools/wait-for-job.js";

// What the agent is told once: how to use the tools, and what happens to jobs when the server stops.
const instructions = (keepJobs: boolean) =>
  `Runs shell commands as background jobs. Start with execute_command; wait_for_job (optionally until=<regex>) instead of polling; tail_job_output or get_job_output to read; kill_job to stop. Jobs and their output are kept across server restarts (list_jobs shows earlier ones). ${
    keepJobs ? "Jobs keep running when this server stops." : "Running jobs are killed when this server stops."
  }`;

/** What a server instance is built with besides the engine. */
export interface ServerOptions {
  keepJobs?: boolean;
  /** Tell the client, as a Claude Code channel, when a job it started ends (see channel.ts). */
  channel?: boolean;
  /** Serve resources/subscribe (2025-era clients) through this hub. */
  hub?: ResourceHub;
  /**
   * Subscriptions are served by the transport instead (2026-era subscriptions/listen over HTTP):
   * only declare them.
   */
  subscribeElsewhere?: boolean;
  /** Serve MCP tasks (both generations) run by this runtime. */
  tasks?: TaskRuntime;
  /**
   * The protocol era of the connection this instance serves, if known: what it declares follows it
   * (tasks as a capability or as an extension; channels only where they can reach a client).
   */
  era?: "legacy" | "modern";
}

/**
 * Builds an MCP server whose tools and resources act on the given job engine. With a hub, the
 * instance serves subscriptions and ends them when its connection closes.
 */
export function createServer(jobs: JobsForTools, options: ServerOptions = {}): McpServer {
  // A 2026-07-28 connection has no way to push a channel's notification to its client (Claude Code:
  // "no channel delivery path"): the capability is not declared to it.
  const opts = options.era === "modern" ? { ...options, channel: false } : options;
  const server = new McpServer(
    { name: "mcp-bg-jobs", version: VERSION },
    {
      capabilities: {
        tools: {},
        resources: { subscribe: opts.hub !== undefined || opts.subscribeElsewhere === true, listChanged: true },
        ...(opts.channel ? { experimental: CHANNEL_CAPABILITY } : {}),
      },
      instructions: instructions(opts.keepJobs ?? false) + (opts.channel ? CHANNEL_INSTRUCTIONS : ""),
    },
  );
  registerJobResources(server, jobs);
  if (opts.hub) {
    const stop = serveSubscriptions(server, jobs, opts.hub);
    chain(server, "onclose", stop);
  }
  const channel = opts.channel ? channelNotifier(server, jobs) : undefined;
  if (channel) chain(server, "onclose", channel.stop);
  registerExecuteCommandTool(server, jobs, channel?.started);
  registerListJobsTool(server, jobs);
  registerGetJobStatusTool(server, jobs);
  registerGetJobOutputTool(server, jobs);
  registerTailJobOutputTool(server, jobs);
  registerInteractWithJobTool(server, jobs);
  registerKillJobTool(server, jobs);
  registerWaitForJobTool(server, jobs);
  registerSearchJobOutputTool(server, jobs);
  if (opts.tasks) {
    // Tasks reach into the SDK (tasks/sdk-seams.ts): if a new SDK breaks that, the server serves
    // everything else, and says why there are no tasks.
    try {
      serveTasks(server, opts.tasks, opts.era);
    } catch (err) {
      log("error", "MCP tasks are not served (the SDK changed?)", err);
    }
  }
  return server;
}
