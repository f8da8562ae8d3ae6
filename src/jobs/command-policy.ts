import { JobError } from "./errors.js";

/** A named rule that refuses commands matching its pattern. */
export interface DenyRule {
  name: string;
  pattern: RegExp;
}

// Where a command word stands: the start, after a separator or subshell opener, or after sudo.
const AT = String.raw`(?:^|[;&|(\x60]\s*|\$\(\s*|\bsudo\s+(?:-\S+\s+)*)`;
// The end of a word: end of input, a space or a separator.
const END = String.raw`(?=$|[\s;&|)\x60])`;

/**
 * The default guard rails: the seed server's intent (no wiping `/` or `~`, no formatting disks, no
 * raw writes onto devices, no fork bombs, no piping a download into a shell), written so that the
 * catastrophic forms are refused and harmless look-alikes (`echo mkfs`, `rm -rf ./build`) are not.
 * A guard rail against an agent's slip, not a sandbox: a determined command gets around any regex.
 */
export const DEFAULT_DENY_RULES: readonly DenyRule[] = [
  {
    name: "rm -rf of / or ~",
    pattern: new RegExp(
      String.raw`${AT}rm\s+(?:-\S+\s+)*-(?:-recursive|[a-zA-Z]*[rR][a-zA-Z]*)\s+(?:-\S+\s+)*(?:--\s+)?["']?(?:/|/\*|~|~/|~/\*|\$\{?HOME\}?/?\*?)["']?${END}`,
    ),
  },
  { name: "mkfs", pattern: new RegExp(String.raw`${AT}mkfs(?:\.\w+)?${END}`) },
  {
    name: "dd onto a device",
    pattern: new RegExp(String.raw`${AT}dd\s[^;&|]*\bof=/dev/(?!null\b|zero\b|stdout\b|stderr\b|tty\b|fd/)\S`),
  },
  { name: "fork bomb", pattern: new RegExp(String.raw`${AT}([\w:.]+)\s*\(\)\s*\{\s*\1\s*\|\s*&?\s*\1\s*&`) },
  {
    name: "download piped into a shell",
    pattern: new RegExp(
      String.raw`${AT}(?:curl|wget)\b[^;&]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:ba|da|z|k|fi|c|tc)?sh${END}`,
    ),
  },
];

/** Which commands may run: an optional allow-list and a deny-list of named rules. */
export interface CommandPolicy {
  allowed: readonly RegExp[] | undefined;
  denied: readonly DenyRule[];
}

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
