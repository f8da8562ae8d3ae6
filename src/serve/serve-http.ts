import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "../config/config.js";
import type { JobEngine } from "../engine/index.js";
import { log } from "../log.js";
import { mcpOverHttp, refuse } from "../mcp/http.js";
import { McpWiring } from "../mcp/wiring.js";
import { ConnectionBudget } from "../web/connections.js";
import { requestGuard } from "../web/http-guards.js";
import { uiAuth } from "../web/ui-auth.js";
import { createUi } from "../web/ui-routes.js";
import { onStop } from "./lifecycle.js";

/**
 * One HTTP server for many clients (`--http`): MCP at /mcp and the web page for people beside it, on
 * one port. Every request passes the Host/Origin/token guard first; connections are held within
 * ConnectionBudget. Runs until SIGINT, SIGTERM or SIGHUP; then closes the streams, kills the jobs it
 * owns (unless keep-jobs) and exits.
 */
export function serveOnHttp(jobs: JobEngine, config: Config): void {
  const wiring = new McpWiring(jobs, config);
  const mcp = mcpOverHttp(jobs, config, wiring);
  const guard = requestGuard(config);
  const http = createServer();
  const budget = new ConnectionBudget(http);
  const ui = createUi(jobs, uiAuth(config.authToken), budget);
  http.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    // Any other path is not found, token or not: a client probing for OAuth metadata
    // (/.well-known/oauth-*) must learn there is none, not be told to authenticate.
    const refusal = guard(req, { token: path === "/mcp" });
    if (refusal) return refuse(res, refusal.status, refusal.message, refusal.headers);
    // The web page for people, beside /mcp on the same port (it checks the token itself: a browser
    // signs in with a cookie).
    if (ui.owns(path)) return ui.handle(req, res, path);
    if (path !== "/mcp") return refuse(res, 404, "Not found: MCP is served at /mcp");
    // Past the token check: this connection is a client's, not a stranger's (see ConnectionBudget).
    budget.prove(req.socket);
    mcp.handle(req, res);
  });
  http.on("clientError", (_err, socket) => socket.destroy());
  onStop(
    async () => {
      wiring.stop();
      http.close();
      await mcp.close();
      ui.close();
      http.closeAllConnections();
      await jobs.shutdown();
    },
    () => jobs.abandon(),
  );
  http.on("error", (err) => {
    log("error", `cannot listen on ${config.host}:${config.port}: ${err.message}`);
    void jobs.shutdown().finally(() => process.exit(2));
  });
  http.listen(config.port, config.host, () => {
    const { port } = http.address() as AddressInfo;
    const host = config.host.includes(":") ? `[${config.host}]` : config.host;
    log("info", `listening on http://${host}:${port}/mcp`);
  });
}
