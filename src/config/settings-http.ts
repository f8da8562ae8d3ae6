import { bad, integer, parseSize, timerSeconds, yesNo } from "./parsers.js";
import type { Config, Setting } from "./types.js";

/** The settings of serving over HTTP (`--http`) and the web page. */
export const HTTP_SETTINGS = [
  {
    key: "http",
    env: "MCP_BG_HTTP",
    flag: "--http",
    parse: yesNo,
    help: "serve Streamable HTTP at /mcp instead of stdio",
    default: false,
    shown: "off",
    isSwitch: true,
  },
  {
    key: "port",
    env: "MCP_BG_PORT",
    flag: "--port",
    parse: integer(0, 65535),
    help: "HTTP port; 0 picks a free one",
    default: 8765,
    shown: "8765",
  },
  {
    key: "host",
    env: "MCP_BG_HOST",
    flag: "--host",
    parse: (raw, name) => {
      const host = raw.trim();
      if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw bad(name, raw, "expected a host name or IP address");
      return host;
    },
    help: "HTTP address to listen on; other than loopback needs a token",
    default: "127.0.0.1",
    shown: "127.0.0.1",
  },
  {
    key: "authToken",
    env: "MCP_BG_AUTH_TOKEN",
    flag: "--auth-token",
    parse: (raw, name) => {
      if (raw.length < 16 || /\s/.test(raw)) throw bad(name, "***", "expected at least 16 characters, no spaces");
      return raw;
    },
    help: "HTTP requests must send Authorization: Bearer TOKEN (prefer the variable: flags show in ps)",
    default: undefined,
    shown: "none",
  },
  {
    key: "allowedHosts",
    env: "MCP_BG_ALLOWED_HOSTS",
    flag: "--allowed-hosts",
    parse: (raw, name) => {
      const hosts = raw
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean);
      for (const h of hosts) {
        // Matched against the Host and Origin host names, which never carry a port here.
        if (!/^[a-z0-9.-]+$|^\[?[0-9a-f:.]+\]?$/.test(h) || /^[a-z0-9.-]+:\d+$/.test(h)) {
          throw bad(name, raw, `${JSON.stringify(h)} is not a host name (give names or addresses, no ports)`);
        }
      }
      return hosts;
    },
    help: "more host names HTTP requests may use in Host/Origin, comma-separated",
    default: () => [],
    shown: "loopback and --host",
  },
  {
    key: "maxRequestBytes",
    env: "MCP_BG_MAX_REQUEST_SIZE",
    flag: "--max-request-size",
    parse: parseSize,
    help: "largest message a client may send (an HTTP body, a stdio line), KB/MB suffix",
    default: 4 * 1024 * 1024,
    shown: "4MB",
  },
  {
    key: "sessionIdleSeconds",
    env: "MCP_BG_SESSION_IDLE",
    flag: "--session-idle",
    parse: timerSeconds,
    help: "seconds an HTTP session with nothing open may sit unused",
    default: 1800,
    shown: "1800",
  },
  {
    key: "maxSessions",
    env: "MCP_BG_MAX_SESSIONS",
    flag: "--max-sessions",
    parse: integer(1, 100_000),
    help: "HTTP sessions kept at once; the longest unused makes room",
    default: 1000,
    shown: "1000",
  },
] as const satisfies readonly Setting<keyof Config>[];
