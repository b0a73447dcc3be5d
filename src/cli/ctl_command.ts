/**
 * `proxy ctl [--socket PATH | --address HOST:PORT] COMMAND...`: sends one command line to the
 * runtime API of a running proxy and prints its answer, so scripts need no socat. Exit status 0
 * for an answer, 1 when the answer reports an error ("No such server."), 2 when the API cannot be
 * reached or gives no answer.
 *
 * Options come first: everything from the first word that is not an option is the command, so
 * `proxy ctl show stat -1 4 -1` passes its numbers on.
 *
 * @module
 */

import type { ArgsDef } from "citty";
import type { Runtime } from "../runtime/types.ts";
import { askRuntimeApi } from "../control/client.ts";
import type { ControlAddress } from "../control/client.ts";
import { parseBindAddress } from "../config/address.ts";
import { parseDuration } from "../config/duration.ts";
import { COMMON_ARGS } from "./args.ts";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "./exit_codes.ts";

/** The socket `proxy ctl` asks when given neither --socket nor --address. */
export const DEFAULT_CTL_SOCKET = "/run/proxy.sock";
/** How long `proxy ctl` waits for the whole answer. */
export const DEFAULT_CTL_TIMEOUT_MS = 10_000;

/** Flags of `proxy ctl` (for its help; parsed by {@link parseCtlArgs}). */
export const CTL_ARGS = {
  socket: { type: "string", alias: ["s"], description: `The runtime API's UNIX socket (default ${DEFAULT_CTL_SOCKET})` },
  address: { type: "string", alias: ["a"], description: "Its TCP address instead, HOST:PORT" },
  timeout: { type: "string", alias: ["t"], description: "How long to wait for the answer (default 10s)" },
  command: { type: "positional", required: true, description: 'The command line, e.g. "show servers state" or "set server app/a state drain"; ";" separates several' },
  ...COMMON_ARGS,
} as const satisfies ArgsDef;

/** What `proxy ctl` was asked. */
export interface CtlRequest {
  readonly address: ControlAddress;
  readonly line: string;
  readonly timeoutMs: number;
}

/** Reads the options (before the command) and the command words. Throws a UsageError. */
export function parseCtlArgs(rawArgs: readonly string[]): CtlRequest {
  let socket: string | undefined;
  let address: string | undefined;
  let timeoutMs = DEFAULT_CTL_TIMEOUT_MS;
  let index = 0;
  const valueOf = (arg: string): string => {
    const equals = arg.indexOf("=");
    if (arg.startsWith("--") && equals >= 0) return arg.slice(equals + 1);
    const value = rawArgs[++index];
    if (value === undefined) throw new UsageError(`Option "${arg}" needs a value`);
    return value;
  };
  for (; index < rawArgs.length; index++) {
    const arg = rawArgs[index]!;
    if (arg === "--") {
      index++;
      break;
    }
    if (!arg.startsWith("-") || /^-\d/.test(arg)) break;
    const name = arg.replace(/^--?/, "").split("=")[0]!;
    if (name === "socket" || name === "s") socket = valueOf(arg);
    else if (name === "address" || name === "a") address = valueOf(arg);
    else if (name === "timeout" || name === "t") {
      const text = valueOf(arg);
      const parsed = parseDuration(text);
      if (typeof parsed === "string" || parsed <= 0) throw new UsageError(`Option "--timeout" expects a duration such as "10s", found "${text}"`);
      timeoutMs = parsed;
    } else if (!["quiet", "q", "verbose", "V"].includes(name)) throw new UsageError(`Unknown option "${arg}"`);
  }
  const words = rawArgs.slice(index);
  if (words.length === 0) throw new UsageError('Missing command: e.g. proxy ctl "show servers state" (proxy ctl help lists them)');
  if (socket !== undefined && address !== undefined) throw new UsageError('Options "--socket" and "--address" cannot be combined: pick one');
  let target: ControlAddress = { kind: "unix", path: socket ?? DEFAULT_CTL_SOCKET };
  if (address !== undefined) {
    try {
      const parsed = parseBindAddress(address);
      target = { kind: "tcp", host: parsed.host === "0.0.0.0" ? "127.0.0.1" : parsed.host, port: parsed.port };
    } catch (error) {
      throw new UsageError(`Option "--address": ${(error as Error).message}`);
    }
  }
  if (socket === "") throw new UsageError('Option "--socket" needs a path');
  return { address: target, line: words.join(" "), timeoutMs };
}

/** Runs `proxy ctl`; returns the exit code (a ControlError escapes: exit 2). */
export async function ctlCommand(rawArgs: readonly string[], runtime: Runtime): Promise<number> {
  const request = parseCtlArgs(rawArgs);
  const answer = await askRuntimeApi(runtime, request.address, request.line, request.timeoutMs);
  // Every byte out before the exit: a large `show stat` on a pipe must not be cut.
  if (answer.text !== "") {
    await new Promise<void>((resolve) => runtime.writeOutput("stdout", new TextEncoder().encode(answer.text), () => resolve()));
  }
  return answer.failed ? EXIT_FAILURE : EXIT_OK;
}
