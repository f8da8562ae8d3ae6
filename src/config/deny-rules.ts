import "../text/safe-regex.js"; // sets the V8 flags that the linear-time patterns below need

/** A named rule that refuses commands matching its pattern. */
export interface DenyRule {
  name: string;
  pattern: RegExp;
}

// Written so that V8's linear-time engine can run them (no lookaround, no backreferences), and checked
// to be so: then V8 switches to that engine when a hostile command makes backtracking explode (the
// first versions went cubic on `|curl|` repeated), while normal commands keep the fast engine.
const linear = (source: string) => {
  new RegExp(source, "l");
  return new RegExp(source);
};

// sudo's options, some of which take a value (`sudo -u root`).
const SUDO = String.raw`\bsudo\s+(?:-\S+\s+(?:[^-\s]\S*\s+)?)*`;
// Where a command word stands: the start, a new line, after a separator, a subshell or block opener,
// a shell keyword, or sudo.
const AT = String.raw`(?:^|[;&|(\x60\n{]\s*|\$\(\s*|\b(?:then|do|else)\s+|${SUDO})`;
// The end of a word: end of input, a space or a separator.
const END = String.raw`(?:$|[\s;&|)\x60])`;
// Arguments within one simple command (up to the next separator).
const ARGS = String.raw`(?:[^;&|\n]*?\s)?`;
// A recursive flag of rm: -r, -R, -rf, -fr, --recursive.
const RECURSIVE = String.raw`-(?:-recursive|[a-zA-Z]*[rR])[^\s;&|\n]*`;
// / or ~ (or $HOME), alone or with a trailing /*.
const ROOT_OR_HOME = String.raw`["']?(?:/|/\*|~|~/|~/\*|\$\{?HOME\}?/?\*?)["']?`;

/**
 * The default guard rails: the seed server's intent (no wiping `/` or `~`, no formatting disks, no
 * raw writes onto devices, no fork bombs, no piping a download into a shell), written so that the
 * catastrophic forms are refused and harmless look-alikes (`echo mkfs`, `rm -rf ./build`) are not.
 * A guard rail against an agent's slip, not a sandbox: a determined command gets around any regex.
 */
export const DEFAULT_DENY_RULES: readonly DenyRule[] = [
  {
    name: "rm -rf of / or ~",
    // rm with a recursive flag and / or ~ among its arguments, in either order.
    pattern: linear(
      String.raw`${AT}rm\s${ARGS}(?:${RECURSIVE}\s${ARGS}${ROOT_OR_HOME}${END}|${ROOT_OR_HOME}\s${ARGS}${RECURSIVE})`,
    ),
  },
  { name: "mkfs", pattern: linear(String.raw`${AT}mkfs(?:\.\w+)?${END}`) },
  {
    name: "dd onto a device",
    // Disks, partitions, memory: not /dev/null, /dev/stdout and the like.
    pattern: linear(
      String.raw`${AT}dd\s[^;&|\n]*\bof=/dev/(?:sd|hd|vd|xvd|nvme|mmcblk|md|dm-|loop|mapper/|disk/|nbd|sr|mtd|zram|rbd|fd\d|mem|kmem|port)`,
    ),
  },
  { name: "fork bomb", pattern: linear(String.raw`${AT}[\w:.]+\s*\(\)\s*\{\s*[\w:.]+\s*\|\s*&?\s*[\w:.]+\s*&`) },
  {
    name: "download piped into a shell",
    pattern: linear(
      String.raw`${AT}(?:curl|wget)\b[^;&\n]*\|\s*(?:${SUDO})?(?:env\s+)?(?:\S*/)?(?:ba|da|z|k|fi|c|tc)?sh${END}`,
    ),
  },
];

/** Which commands may run: an optional allow-list and a deny-list of named rules. */
export interface CommandPolicy {
  allowed: readonly RegExp[] | undefined;
  denied: readonly DenyRule[];
}
