/**
 * The commands of the runtime API, their usage lines and the level each needs, as HAProxy's
 * management guide and source (cli.c, stats.c, proxy.c, server.c) give them: every command that
 * reads is open to "user", every command that changes a server needs "admin" (HAProxy's
 * `cli_has_level(appctx, ACCESS_LVL_ADMIN)` in each of them). "operator" only shows more: server
 * addresses in `show stat`.
 *
 * The table serves the interpreter (`runtime_api.ts`), `help`, the unknown-command message and a
 * -W master, which checks a command here before sending it to its workers.
 *
 * @module
 */

import type { AccessLevel } from "./types.ts";
import { levelAllows } from "./types.ts";
import { quoteWords } from "./command_line.ts";

/** One command of the table. */
export interface CommandSpec {
  /** Its keyword words ("show", "servers", "state"); the arguments follow them. */
  readonly words: readonly string[];
  /** How it is written, arguments included. */
  readonly usage: string;
  readonly description: string;
  readonly level: AccessLevel;
}

function command(usage: string, description: string, level: AccessLevel, keywords: number): CommandSpec {
  return Object.freeze({ words: Object.freeze(usage.split(" ").slice(0, keywords)), usage, description, level });
}

/** Every command but `help`, `prompt` and `quit` (always listed last, as HAProxy does). */
export const COMMANDS: readonly CommandSpec[] = Object.freeze([
  command("disable health <bk>/<srv>", "disable health checks (the server keeps its state)", "admin", 2),
  command("disable server <bk>/<srv>", "put a server in maintenance (same as 'set server ... state maint')", "admin", 2),
  command("enable health <bk>/<srv>", "enable health checks", "admin", 2),
  command("enable server <bk>/<srv>", "take a server out of maintenance or drain (same as 'set server ... state ready')", "admin", 2),
  command("get weight <bk>/<srv>", "report a server's current and initial weight", "user", 2),
  command("set maxconn server <bk>/<srv> <maxconn>", "change a server's maxconn (0: no limit)", "admin", 3),
  command("set server <bk>/<srv> state|weight <value>", "change a server's state (ready, drain, maint) or weight", "admin", 2),
  command("set severity-output none|number|string", "prefix messages with their severity in this session", "user", 2),
  command("set weight <bk>/<srv> <weight>[%]", "change a server's weight (same as 'set server ... weight')", "admin", 2),
  command("show backend", "list backends in the current running config", "user", 2),
  command("show info", "report information about the running process", "user", 2),
  command("show servers state [<backend>]", "dump volatile server information (all or for a single backend)", "user", 3),
  command("show stat [<iid> <type> <sid>] [typed|json|up|no-maint]*", "report counters for each proxy and server", "user", 2),
  command("shutdown sessions server <bk>/<srv>", "kill the sessions on a server", "admin", 3),
]);

/** The commands every level has, handled by the session itself. */
const SESSION_USAGE = [
  "  help [<command>]                        : list matching or all commands",
  "  prompt [n|i|p]                          : toggle interactive mode with prompt",
  "  quit                                    : disconnect",
];

/** Width of the usage column in `help`, HAProxy's. */
const USAGE_WIDTH = 40;

/** The command `words` start with (the longest match), or undefined. */
export function findCommand(words: readonly string[]): CommandSpec | undefined {
  let found: CommandSpec | undefined;
  for (const spec of COMMANDS) {
    if (spec.words.length > words.length) continue;
    if (!spec.words.every((word, index) => words[index] === word)) continue;
    if (found === undefined || spec.words.length > found.words.length) found = spec;
  }
  return found;
}

/** The commands available at `level` whose keywords start with `prefix` (all of them for an empty prefix). */
export function commandsAt(level: AccessLevel, prefix: readonly string[] = []): CommandSpec[] {
  return COMMANDS.filter((spec) =>
    levelAllows(level, spec.level) && prefix.every((word, index) => index >= spec.words.length || spec.words[index] === word)
  );
}

function usageLine(spec: CommandSpec): string {
  return `  ${spec.usage.padEnd(USAGE_WIDTH)}: ${spec.description}`;
}

/** `help [words...]`: the commands of this level (starting with `prefix` when given), then help, prompt and quit. */
export function helpText(level: AccessLevel, prefix: readonly string[] = []): string {
  const matching = commandsAt(level, prefix);
  const listed = matching.length > 0 ? matching : commandsAt(level);
  return ["The following commands are valid at this level:", ...listed.map(usageLine), ...SESSION_USAGE].join("\n") + "\n";
}

/**
 * HAProxy's "Unknown command" on one line: with the commands of this level that share its first
 * words when some do, and where to find the others.
 */
export function unknownCommandMessage(words: readonly string[], level: AccessLevel): string {
  let shared = 0;
  let candidates: CommandSpec[] = [];
  for (let length = Math.min(words.length, 3); length > 0; length--) {
    const prefix = words.slice(0, length);
    const matching = commandsAt(level).filter((spec) => prefix.every((word, index) => spec.words[index] === word));
    if (matching.length > 0) {
      shared = length;
      candidates = matching;
      break;
    }
  }
  const typed = quoteWords(words.slice(0, Math.max(shared + 1, 1)));
  if (candidates.length === 0) return `Unknown command: ${typed}. Enter 'help' for the commands available at this level.`;
  const listed = candidates.map((spec) => quoteWords(spec.words)).join(", ");
  return `Unknown command: ${typed}, but maybe one of the following ones is a better match: ${listed}. Enter 'help' for all of them.`;
}

/** HAProxy's answer to a command above the connection's level. */
export const PERMISSION_DENIED = "Permission denied";
