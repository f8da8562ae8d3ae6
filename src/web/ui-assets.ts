import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../package-root.js";
import { json, send } from "./ui-http.js";

/** The page's files (built into dist/ui by scripts/build-ui.mjs), by name, with their types. */
const ASSETS: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "xterm.js": "text/javascript; charset=utf-8",
  "xterm.css": "text/css; charset=utf-8",
  "addon-search.js": "text/javascript; charset=utf-8",
};

/** The page's own files, read once from dist/ui and kept. */
export class UiAssets {
  private readonly cache = new Map<string, Buffer>();
  private readonly dir = join(PACKAGE_ROOT, "dist", "ui");

  private body(name: string): Buffer {
    let body = this.cache.get(name);
    if (!body) {
      body = readFileSync(join(this.dir, name));
      this.cache.set(name, body);
    }
    return body;
  }

  /** Answers with a file of the page (a GET of /ui/NAME), or 404. */
  serve(res: ServerResponse, name: string, method: string): void {
    if (!Object.hasOwn(ASSETS, name) || method !== "GET") json(res, 404, { error: "Not found" });
    else send(res, 200, ASSETS[name] as string, this.body(name), { "cache-control": "no-cache" });
  }

  /** Answers with the page itself (the list, or a job's page: the same file). */
  page(res: ServerResponse): void {
    send(res, 200, ASSETS["index.html"] as string, this.body("index.html"), { "cache-control": "no-cache" });
  }
}
