import { execFile } from "node:child_process";
import { hostname } from "node:os";
import { join } from "node:path";
import type { JobState } from "../../domain/job-state.js";
import { readPidFile } from "../job-folder.js";
import type { JobStdin } from "../job-stdin.js";
import { SLURM_COMMAND_MS } from "./slurm-commands.js";

/** How input reaches a Slurm job (see SlurmSettings.input). */
export type InputRoute = "auto" | "srun" | "fifo";

/**
 * A Slurm job's stdin: its FIFO in the job's folder, written here when the job runs on this machine,
 * and on its node through `srun --overlap` (inside the job's allocation) when it runs on another one.
 */
export class SlurmInput {
  constructor(
    private readonly settings: { env: NodeJS.ProcessEnv; input: InputRoute },
    private readonly stdin: JobStdin,
    private readonly dirOf: (job: JobState) => string,
    private readonly nodeOf: (slurmId: string) => string | undefined,
  ) {}

  // Whether a job's input must travel through Slurm: it runs on another machine (a FIFO is a local
  // kernel object and does not carry bytes between machines), or the settings say so.
  private remote(job: JobState): string | undefined {
    const node = this.nodeOf(job.executorId ?? "") || job.node;
    if (!node || !job.executorId) return undefined;
    if (this.settings.input === "fifo") return undefined;
    return this.settings.input === "srun" || node !== hostname().split(".")[0] ? node : undefined;
  }

  // Runs a small command on the job's node, inside its allocation (`srun --overlap`, ~0.2 s).
  private onNode(job: JobState, node: string, script: string, args: string[], input?: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        "srun",
        [
          `--jobid=${job.executorId}`,
          "--overlap",
          "-N1",
          "-n1",
          `--nodelist=${node}`,
          "--quiet",
          "sh",
          "-c",
          script,
          "sh",
          ...args,
        ],
        { env: this.settings.env, timeout: SLURM_COMMAND_MS, killSignal: "SIGKILL" },
        (err, _out, stderr) => {
          if (!err) return resolve();
          const said = `${stderr ?? ""}`.trim().split("\n").pop() || err.message;
          // The job has ended, or its stdin is gone: as a local job's closed stdin.
          reject(Object.assign(new Error(`stdin is closed (${said})`), { code: "EPIPE" }));
        },
      );
      child.stdin?.end(input ?? "");
    });
  }

  // Input goes through the job's FIFO in its folder, written on the machine the job runs on.
  write(job: JobState, data: string): Promise<void> {
    const fifo = join(this.dirOf(job), "stdin");
    const node = this.remote(job);
    if (!node) return this.stdin.write(fifo, data);
    // The FIFO's reader (the shepherd) holds it open read-write, so this open never waits for one.
    return this.onNode(job, node, '[ -p "$1" ] && cat > "$1"', [fifo], data);
  }

  end(job: JobState): Promise<void> {
    const fifo = join(this.dirOf(job), "stdin");
    const shepherd = readPidFile(this.dirOf(job))?.shepherd;
    const node = this.remote(job);
    if (!node) return this.stdin.end(fifo, { pid: shepherd?.pid ?? null, start: shepherd?.start ?? null });
    if (!shepherd) return Promise.reject(Object.assign(new Error("stdin is closed"), { code: "EPIPE" }));
    // SIGUSR2 asks the shepherd to close the job's stdin once what was written has reached it;
    // checked by its start time, on its node (field 22 of /proc/PID/stat, after the name).
    const script =
      'set -- "$1" "$2" "$(sed "s/.*) //" /proc/"$1"/stat | cut -d" " -f20)"; [ "$3" = "$2" ] && kill -USR2 "$1"';
    return this.onNode(job, node, script, [String(shepherd.pid), String(shepherd.start)]);
  }
}
