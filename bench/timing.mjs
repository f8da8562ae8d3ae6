// What every bench section times with: medians and percentiles, a monotonic clock in ms, a pause,
// and a shell command's wall time run directly (the floors).
import { spawnSync } from "node:child_process";

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
export const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
export const now = () => process.hrtime.bigint();
export const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
export const sleep = (t) => new Promise((r) => setTimeout(r, t));

/** Wall time of a shell command run directly (no server), in ms. */
export function shellMs(command) {
  const t0 = now();
  const r = spawnSync("/bin/sh", ["-c", command], { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${command} failed`);
  return ms(t0);
}
