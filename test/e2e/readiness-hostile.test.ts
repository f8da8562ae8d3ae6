import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, type Harness, startServer } from "../support/harness.js";
import { tempDir } from "../support/helpers.js";

// until_http means this machine, whatever a resolver says; a dev server's self-signed certificate
// still answers; the ports a job lists are bounded. (Found by a hostile review: `*.localhost` names
// went to the resolver, which a hosts entry sent to 10.x; an https server with a self-signed
// certificate never matched; 10,000 listening sockets gave a 121,076-character get_job_status.)

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Wait = { matched: boolean; match: string | null; timed_out: boolean };

/** An HTTP(S) server of the test's on 127.0.0.1, answering 204; its port. */
async function listening(server: Server): Promise<number> {
  server.on("request", (_req, res) => res.writeHead(204).end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

const canNamespace = spawnSync("unshare", ["--user", "--map-root-user", "--mount", "true"]).status === 0;
if (!canNamespace) console.log("until_http resolver tests skipped: cannot make user and mount namespaces here");

describe.skipIf(!canNamespace)("until_http with a resolver that lies", () => {
  /** A server that sees `hosts` as its /etc/hosts (a mount namespace of its own). */
  async function serverWithHosts(hosts: string): Promise<Harness> {
    const dir = tempDir("mcp-bg-hosts-");
    cleanups.push(() => dir.remove());
    const file = join(dir.path, "hosts");
    writeFileSync(file, hosts);
    const s = await startServer({
      command: [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        'mount --bind "$0" /etc/hosts && exec "$@"',
        file,
        process.execPath,
        BIN,
      ],
    });
    cleanups.push(() => s.close());
    return s;
  }

  it("a *.localhost name is loopback, whatever the hosts file says", async () => {
    const port = await listening(createHttpServer());
    const s = await serverWithHosts("10.11.12.13 dev.localhost\n");
    // The hosts file is the server's: the job sees it too.
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: "getent hosts dev.localhost; sleep 300",
    });
    const r = await s.ok<Wait>("wait_for_job", {
      job_id,
      until_http: `http://dev.localhost:${port}/`,
      timeout_seconds: 45,
    });
    expect(r).toMatchObject({ matched: true, match: `http://dev.localhost:${port}/ answered 204` });
    expect((await s.ok<{ stdout: string }>("get_job_output", { job_id })).stdout).toMatch(
      /^10\.11\.12\.13\s+dev\.localhost/,
    );
    await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 });
  });

  it("this machine's name that resolves elsewhere is refused, saying where it leads", async () => {
    const s = await serverWithHosts(`10.11.12.13 ${hostname()}\n`);
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    const error = await s.error("wait_for_job", {
      job_id,
      until_http: `http://${hostname()}:8080/`,
      timeout_seconds: 5,
    });
    expect(error).toMatch(/resolves to 10\.11\.12\.13, which is not one of its addresses/);
    await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 });
  });
});

describe("until_http and https", () => {
  it("a self-signed certificate still counts as an answer", async () => {
    const dir = tempDir("mcp-bg-tls-");
    cleanups.push(() => dir.remove());
    const made = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-days",
        "1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
      ],
      { cwd: dir.path },
    );
    if (made.status !== 0) return console.log("https test skipped: openssl could not make a certificate");
    const port = await listening(
      createHttpsServer({
        key: readFileSync(join(dir.path, "key.pem")),
        cert: readFileSync(join(dir.path, "cert.pem")),
      }) as unknown as Server,
    );
    const s = await startServer();
    cleanups.push(() => s.close());
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", { command: "sleep 300" });
    for (const host of ["localhost", "127.0.0.1"]) {
      const url = `https://${host}:${port}/`;
      expect(await s.ok<Wait>("wait_for_job", { job_id, until_http: url, timeout_seconds: 45 })).toMatchObject({
        matched: true,
        match: `${url} answered 204`,
      });
    }
    await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 });
  });
});

describe("the ports a job lists", () => {
  it("are at most 50, the lowest, however many it listens on", async () => {
    const s = await startServer();
    cleanups.push(() => s.close());
    const { job_id } = await s.ok<{ job_id: string }>("execute_command", {
      command: `node -e 'const net = require("net"); let n = 0; for (let i = 0; i < 500; i++) net.createServer().listen(0, "127.0.0.1", () => { if (++n === 500) console.log("listening"); });'`,
      wait_until: "^listening$",
      wait_seconds: 30,
    });
    const status = await s.ok<{ ports: number[] }>("get_job_status", { job_id });
    expect(status.ports).toHaveLength(50);
    expect([...status.ports].sort((a, b) => a - b)).toEqual(status.ports);
    await s.ok("kill_job", { job_id, signal: "SIGKILL", grace_seconds: 0 });
  });
});
