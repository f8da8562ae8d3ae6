import { beforeAll, describe, expect, it } from "vitest";
import { useServer } from "../support/harness.js";
import { waitFor } from "../support/helpers.js";

type Started = { job_id: string };

describe("job resources over stdio", () => {
  const s = useServer();
  let done: Started;

  beforeAll(async () => {
    done = await s.ok<Started>("execute_command", {
      command: "printf '\\033[32mgreen\\033[0m\\n'; echo warn >&2; exit 2",
      name: "colours",
    });
    await s.ok("wait_for_job", { job_id: done.job_id });
  });

  it("lists each recent job as job://ID and job://ID/output, and offers both templates", async () => {
    const { resources } = await s.client.listResources();
    expect(resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ uri: `job://${done.job_id}`, mimeType: "application/json" }),
        expect.objectContaining({ uri: `job://${done.job_id}/output`, mimeType: "text/plain" }),
      ]),
    );
    const { resourceTemplates } = await s.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(["job://{job_id}", "job://{job_id}/output"]);
  });

  it("reads a job's record as JSON and its output as cleaned text", async () => {
    const record = await s.client.readResource({ uri: `job://${done.job_id}` });
    const text = (record.contents[0] as { text: string }).text;
    expect(JSON.parse(text)).toMatchObject({ job_id: done.job_id, status: "failed", exit_code: 2, name: "colours" });
    expect(JSON.parse(text).outcome).toMatch(/exited with code 2/);
    const output = await s.client.readResource({ uri: `job://${done.job_id}/output` });
    expect(output.contents[0]).toMatchObject({ mimeType: "text/plain", text: "green\n[stderr]\nwarn\n" });
  });

  it("an unknown job's resource is an error, not a crash", async () => {
    await expect(s.client.readResource({ uri: "job://no-such-job" })).rejects.toThrow(/not found/);
    await expect(s.client.subscribeResource({ uri: "job://no-such-job/output" })).rejects.toThrow(/not found/);
    // The server is fine.
    expect(await s.ok("list_jobs", {})).toMatchObject({ total: 1 });
  });

  it("a subscriber is told when a job's output grows and when it ends; list_changed when jobs come", async () => {
    const updated: string[] = [];
    let listChanged = 0;
    s.client.setNotificationHandler("notifications/resources/updated", (n) => {
      updated.push(n.params.uri);
    });
    s.client.setNotificationHandler("notifications/resources/list_changed", () => {
      listChanged++;
    });
    const job = await s.ok<Started>("execute_command", { command: "read go; echo step $go; read stop" });
    await waitFor(() => listChanged > 0, 5000);
    await s.client.subscribeResource({ uri: `job://${job.job_id}/output` });
    await s.client.subscribeResource({ uri: `job://${job.job_id}` });
    expect(updated).toEqual([]);
    await s.ok("interact_with_job", { job_id: job.job_id, input: "1", wait_ms: 500 });
    await waitFor(() => updated.includes(`job://${job.job_id}/output`), 5000);
    // Only the output changed so far.
    expect(updated).not.toContain(`job://${job.job_id}`);
    await s.ok("interact_with_job", { job_id: job.job_id, input: "x", wait_ms: 500 });
    await waitFor(() => updated.includes(`job://${job.job_id}`), 5000);
    const record = await s.client.readResource({ uri: `job://${job.job_id}` });
    expect(JSON.parse((record.contents[0] as { text: string }).text)).toMatchObject({ status: "completed" });
    // After unsubscribing, nothing more comes.
    await s.client.unsubscribeResource({ uri: `job://${job.job_id}/output` });
    await s.client.unsubscribeResource({ uri: `job://${job.job_id}` });
  });

  it("output that keeps coming is told at most a few times a second", async () => {
    const updated: number[] = [];
    // 40 writes 50 ms apart: 40 changes in 2 s.
    const job = await s.ok<Started>("execute_command", {
      command: "read go; for i in $(seq 40); do echo $i; sleep 0.05; done; read stop",
    });
    s.client.setNotificationHandler("notifications/resources/updated", (n) => {
      if (n.params.uri === `job://${job.job_id}/output`) updated.push(Date.now());
    });
    await s.client.subscribeResource({ uri: `job://${job.job_id}/output` });
    const t0 = Date.now();
    await s.ok("interact_with_job", { job_id: job.job_id, input: "go", wait_ms: 100 });
    await s.ok("wait_for_job", { job_id: job.job_id, until: "^40$" });
    await new Promise((r) => setTimeout(r, 400));
    const seconds = (Date.now() - t0) / 1000;
    expect(updated.length).toBeGreaterThanOrEqual(3);
    expect(updated.length).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 2);
    expect(updated.length).toBeLessThan(20);
    await s.ok("kill_job", { job_id: job.job_id, grace_seconds: 1 });
  });
});
