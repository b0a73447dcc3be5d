/**
 * The runtime API's interpreter: one command (its words) at one access level in, one answer out,
 * acting on a {@link ControlTarget} and reading a {@link StatsReader}. Runtime-free: the session
 * that speaks the protocol on a socket is `cli_session.ts`, and the target over a running proxy is
 * `src/engine/runtime_api_target.ts`; tests drive it with fakes.
 *
 * Answers follow HAProxy's wording (server.c, proxy.c, stats.c): "No such backend.", "No such
 * server.", "Require 'backend/server'.", "Permission denied", the weight and maxconn parse errors.
 * A change that succeeds answers nothing, as HAProxy's do.
 *
 * `show stat` is the stats module's (src/stats/show_stat.ts), on a snapshot from the injected
 * {@link StatsReader}; `show info` is written here from the same snapshot.
 *
 * Departures from HAProxy, each because our model can: `set weight` takes any weight with every
 * algorithm (HAProxy's static ones only 0% and 100%: our balancers rebuild their tables when told);
 * `set maxconn server` refuses a negative value (HAProxy takes it); extra words after a command are
 * an error rather than ignored.
 *
 * @module
 */

import { formatShowStat, parseShowStat } from "../stats/show_stat.ts";
import { findCommand, PERMISSION_DENIED, unknownCommandMessage } from "./commands.ts";
import type { CommandSpec } from "./commands.ts";
import { quoteWords } from "./command_line.ts";
import { serversStateText } from "./server_state.ts";
import { showInfoText } from "./show_info.ts";
import { errorAnswer, levelAllows, NO_ANSWER } from "./types.ts";
import type { AccessLevel, AdminState, Answer, ControlServer, ControlTarget, StatsReader } from "./types.ts";

/** Highest weight, HAProxy's. */
export const MAX_API_WEIGHT = 256;
/** Highest maxconn the API sets, as the configuration's. */
export const MAX_API_MAXCONN = 10_000_000;

/** A command checked against the table and the level: its spec, or the answer refusing it. */
export type ResolvedCommand = { readonly spec: CommandSpec } | { readonly refusal: Answer };

/** Finds the command `words` name and checks the level: what a -W master does before forwarding too. */
export function resolveCommand(words: readonly string[], level: AccessLevel): ResolvedCommand {
  const spec = findCommand(words);
  if (spec === undefined) return { refusal: errorAnswer(unknownCommandMessage(words, level)) };
  if (!levelAllows(level, spec.level)) return { refusal: errorAnswer(PERMISSION_DENIED) };
  return { spec };
}

/** A server found from a "backend/server" argument, or the answer saying why not. */
type Found = { readonly server: ControlServer } | { readonly refusal: Answer };

/** The runtime API's interpreter; see the module notes. */
export class RuntimeApi {
  private readonly target: ControlTarget;
  private readonly stats: StatsReader | null;

  /** `stats` null: `show info` and `show stat` say that statistics are not available in this process. */
  constructor(target: ControlTarget, stats: StatsReader | null) {
    this.target = target;
    this.stats = stats;
  }

  /**
   * Runs one command at `level`. `help`, `prompt`, `quit` and `set severity-output` belong to the
   * session (`cli_session.ts`), which never sends them here.
   */
  execute(words: readonly string[], level: AccessLevel): Answer {
    const resolved = resolveCommand(words, level);
    if ("refusal" in resolved) return resolved.refusal;
    const spec = resolved.spec;
    const args = words.slice(spec.words.length);
    switch (spec.words.join(" ")) {
      case "show info":
        return this.showInfo(args);
      case "show stat":
        return this.showStat(args, level);
      case "show servers state":
        return this.showServersState(args);
      case "show backend":
        return this.noExtra(spec, args, 0) ?? { kind: "text", text: ["# name", ...this.target.backends.map((backend) => backend.name)].join("\n") + "\n" };
      case "get weight":
        return this.withServer(spec, args, 1, (server) => {
          const weights = server.weights();
          return { kind: "text", text: `${weights.current} (initial ${weights.initial})\n` };
        });
      case "set weight":
        return this.withServer(spec, args, 2, (server) => this.setWeight(server, args[1]));
      case "set server":
        return this.setServer(spec, args);
      case "set maxconn server":
        return this.withServer(spec, args, 2, (server) => this.setMaxconn(server, args[1]));
      case "enable server":
        return this.withServer(spec, args, 1, (server) => this.setAdminState(server, "ready"));
      case "disable server":
        return this.withServer(spec, args, 1, (server) => this.setAdminState(server, "maint"));
      case "enable health":
        return this.withServer(spec, args, 1, (server) => {
          if (!server.checked) return errorAnswer("Health check was not configured on this server, cannot enable.");
          server.setHealthChecks(true);
          return NO_ANSWER;
        });
      case "disable health":
        return this.withServer(spec, args, 1, (server) => {
          // HAProxy answers nothing for a server without a check either: there is nothing to stop.
          if (server.checked) server.setHealthChecks(false);
          return NO_ANSWER;
        });
      case "shutdown sessions server":
        return this.withServer(spec, args, 1, (server) => {
          server.shutdownSessions();
          return NO_ANSWER;
        });
      default:
        return errorAnswer(`Command ${quoteWords(spec.words)} is not handled here.`);
    }
  }

  // ---- show ----

  private showInfo(args: readonly string[]): Answer {
    if (args.length > 0) return errorAnswer(`Unsupported option '${args[0]}' for 'show info': only the plain form is available.`);
    if (this.stats === null) return statsUnavailable();
    return { kind: "text", text: showInfoText(this.stats.snapshot().info) };
  }

  /**
   * HAProxy 2.6's `show stat` (src/stats/show_stat.ts: the CSV, `typed`, `json`, the iid/type/sid
   * filter, `up`, `no-maint`), with the addresses and algorithms shown from level operator up,
   * as HAProxy's STAT_F_SHLGNDS.
   */
  private showStat(args: readonly string[], level: AccessLevel): Answer {
    if (this.stats === null) return statsUnavailable();
    const snapshot = this.stats.snapshot();
    const parsed = parseShowStat(args, snapshot);
    if (!parsed.ok) return errorAnswer(parsed.error);
    return { kind: "text", text: formatShowStat(snapshot, { ...parsed.request, showLegends: levelAllows(level, "operator") }) };
  }

  private showServersState(args: readonly string[]): Answer {
    if (args.length > 1) return tooManyArguments(["show", "servers", "state"], args.slice(1));
    let backends = this.target.backends;
    if (args.length === 1) {
      const backend = this.target.backend(args[0]!);
      if (backend === undefined) return errorAnswer("Can't find backend.");
      backends = [backend];
    }
    return { kind: "text", text: serversStateText(backends.flatMap((backend) => backend.servers.map((server) => server.state()))) };
  }

  // ---- changes ----

  private setServer(spec: CommandSpec, args: readonly string[]): Answer {
    return this.withServer(spec, args, 3, (server) => {
      const what = args[1];
      const value = args[2];
      if (what === "state") {
        if (value !== "ready" && value !== "drain" && value !== "maint") {
          return errorAnswer("'set server <srv> state' expects 'ready', 'drain' and 'maint'.");
        }
        return this.setAdminState(server, value);
      }
      if (what === "weight") return this.setWeight(server, value);
      return errorAnswer("'set server <srv>' only supports 'state' and 'weight'.");
    }, 1);
  }

  private setAdminState(server: ControlServer, state: AdminState): Answer {
    server.setAdminState(state);
    return NO_ANSWER;
  }

  private setWeight(server: ControlServer, text: string | undefined): Answer {
    const weight = parseWeight(text, server.weights().initial);
    if (typeof weight === "string") return errorAnswer(weight);
    server.setWeight(weight);
    return NO_ANSWER;
  }

  private setMaxconn(server: ControlServer, text: string | undefined): Answer {
    const maxconn = parseMaxconn(text);
    if (typeof maxconn === "string") return errorAnswer(maxconn);
    server.setMaxconn(maxconn);
    return NO_ANSWER;
  }

  // ---- arguments ----

  /**
   * Finds the server of `args[0]` and runs `action` on it. `count` is how many arguments the
   * command takes at most; `required` how many must be there for `action` (the rest it reports itself).
   */
  private withServer(
    spec: CommandSpec,
    args: readonly string[],
    count: number,
    action: (server: ControlServer) => Answer,
    required = 1,
  ): Answer {
    const found = this.findServer(args[0]);
    if ("refusal" in found) return found.refusal;
    if (args.length < required) return errorAnswer(`Missing argument for ${quoteWords(spec.words)}: ${spec.usage}.`);
    if (args.length > count) return tooManyArguments(spec.words, args.slice(count));
    return action(found.server);
  }

  private noExtra(spec: CommandSpec, args: readonly string[], count: number): Answer | undefined {
    return args.length > count ? tooManyArguments(spec.words, args.slice(count)) : undefined;
  }

  /** HAProxy's cli_find_server: "backend/server", split at the first slash. */
  private findServer(argument: string | undefined): Found {
    const slash = argument === undefined ? -1 : argument.indexOf("/");
    if (argument === undefined || slash < 0 || slash === argument.length - 1) {
      return { refusal: errorAnswer("Require 'backend/server'.") };
    }
    const backend = this.target.backend(argument.slice(0, slash));
    if (backend === undefined) return { refusal: errorAnswer("No such backend.") };
    const server = backend.server(argument.slice(slash + 1));
    if (server === undefined) return { refusal: errorAnswer("No such server.") };
    return { server };
  }
}

function statsUnavailable(): Answer {
  return errorAnswer("Statistics are not available in this process.");
}

function tooManyArguments(words: readonly string[], extra: readonly string[]): Answer {
  return errorAnswer(`Too many arguments for ${quoteWords(words)}: ${quoteWords(extra)} is not expected.`);
}

/** strtol's reading of a leading integer: its value and the rest, or null when there is none. */
function leadingInteger(text: string): { readonly value: number; readonly rest: string } | null {
  const match = /^[ \t]*([+-]?\d+)(.*)$/s.exec(text);
  return match === null ? null : { value: Number(match[1]), rest: match[2]! };
}

/**
 * HAProxy's server_parse_weight_change_request: "N" is absolute (0 to 256), "N%" a share of the
 * initial weight (capped at 256). Returns the weight, or the error message.
 */
export function parseWeight(text: string | undefined, initialWeight: number): number | string {
  if (text === undefined || text === "") return "Require <weight> or <weight%>.";
  const parsed = leadingInteger(text);
  if (parsed === null) return "Empty weight string empty or preceded by garbage";
  let weight = parsed.value;
  if (parsed.rest === "%") {
    if (weight < 0) return "Relative weight must be positive.";
    weight = Math.floor((initialWeight * Math.min(weight, 25_600)) / 100);
    return Math.min(weight, MAX_API_WEIGHT);
  }
  if (weight < 0 || weight > MAX_API_WEIGHT) return `Absolute weight can only be between 0 and ${MAX_API_WEIGHT} inclusive.`;
  if (parsed.rest !== "") return "Trailing garbage in weight string";
  return weight;
}

/** HAProxy's server_parse_maxconn_change_request, and a range (0: no limit). Returns maxconn or the error message. */
export function parseMaxconn(text: string | undefined): number | string {
  if (text === undefined || text === "") return "Require <maxconn>.";
  const parsed = leadingInteger(text);
  if (parsed === null) return "maxconn string empty or preceded by garbage";
  if (parsed.rest !== "") return "Trailing garbage in maxconn string";
  if (parsed.value < 0 || parsed.value > MAX_API_MAXCONN) {
    return `Maxconn can only be between 0 (no limit) and ${MAX_API_MAXCONN} inclusive.`;
  }
  return parsed.value;
}
