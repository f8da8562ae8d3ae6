import type { CommandPolicy } from "../config/deny-rules.js";
import { JobError } from "./errors.js";

/** Throws a `denied` JobError when the policy refuses the command, naming the rule. */
export function checkCommand(policy: CommandPolicy, command: string): void {
  if (policy.allowed && !policy.allowed.some((re) => re.test(command))) {
    throw new JobError(
      "denied",
      `Command refused: it matches none of MCP_BG_ALLOWED_COMMANDS (${policy.allowed.map(String).join(", ")})`,
    );
  }
  const rule = policy.denied.find((r) => r.pattern.test(command));
  if (rule) {
    throw new JobError(
      "denied",
      `Command refused by the deny rule "${rule.name}" (MCP_BG_DENIED_COMMANDS). This is a guard rail, not a sandbox; ask the user if the command is really intended.`,
    );
  }
}
