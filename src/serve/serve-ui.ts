import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JobEngine } from "../engine/index.js";
import { ConnectionBudget } from "../web/connections.js";
import { type GuardSettings, requestGuard } from "../web/http-guards.js";
import { uiAuth } from "../web/ui-auth.js";
import { createUi } from "../web/ui-routes.js";

/** A page server that runs. */
export interface UiServer {
  /** Where it answers (http://host:port/). */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the web page alone (`mcp-bg-jobs ui`), for the state dir the engine has open, whether any
 * MCP server runs on it or not: the same Host/Origin guard as /mcp, and the token, if set, to sign in.
 */
export function serveUi(jobs: JobEngine, settings: GuardSettings & { port: number }): Promise<UiServer> {
  const guard = requestGuard(settings);
  const http = createServer();
  const budget = new ConnectionBudget(http);
  const ui = createUi(jobs, uiAuth(settings.authToken), budget);
  http.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0] as string;
    const refusal = guard(req, { token: false });
    if (refusal) {
      res.writeHead(refusal.status, { "content-type": "text/plain; charset=utf-8", ...refusal.headers });
      return res.end(`${refusal.message}\n`);
    }
    if (!ui.owns(path)) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      return res.end("Not found\n");
    }
    ui.handle(req, res, path);
  });
  http.on("clientError", (_err, socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(settings.port, settings.host, () => {
      const { port } = http.address() as AddressInfo;
      const host = settings.host.includes(":") ? `[${settings.host}]` : settings.host;
      resolve({
        url: `http://${host}:${port}/`,
        close: async () => {
          ui.close();
          http.closeAllConnections();
          await new Promise((r) => http.close(r));
        },
      });
    });
  });
}
