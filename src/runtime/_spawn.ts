/**
 * Child processes over node:child_process, the same on Node, Bun and Deno (all three implement it;
 * Deno maps it onto `Deno.Command`). Standard input is ignored, standard output and error are ours,
 * and descriptors given as numbers after them in `stdio` become the child's 3, 4, ... on all three
 * (Deno's makes each blocking on the way, for its own process too: see `_inheritable_socket.ts`).
 *
 * Quirks shared by the three:
 * - A command that cannot be started (ENOENT, EACCES...) gets no pid at once, and its errno only
 *   comes with an 'error' event on the next tick: `startChild` throws at once, naming the cause a
 *   PATH search finds, and the late event goes to a listener that is always attached, so it can
 *   never be an unhandled 'error'.
 * - `kill` returns false when the process is gone (or refuses the signal: EPERM).
 *
 * @module
 */

import { spawn as spawnProcess } from "node:child_process";
import type { ChildProcess as NodeChildProcess } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import type { ChildExit, ChildProcess, KillSignalName } from "./types.ts";

/** What `startChild` passes on to node:child_process besides the command line. */
export interface ChildOptions {
  /** Variables set for the child on top of our environment. */
  readonly env: Readonly<Record<string, string>> | undefined;
  /**
   * Descriptors of ours the child gets as its 3, 4, ... (node:child_process dup2s them into place:
   * ours stay close-on-exec, the child's copies do not).
   */
  readonly descriptors?: readonly number[];
  /**
   * Descriptors of ours the caller made inheritable (close-on-exec cleared) for this start: the
   * child has them under the same numbers. Reported as the child's `inherited`, nothing else.
   */
  readonly inherited?: readonly number[];
  /** Runs the child as this user: with root's own ids it only clears its supplementary groups. */
  readonly uid?: number;
  readonly gid?: number;
}

/** Starts `command` with stdin ignored and stdout/stderr inherited; throws an Error naming it when it cannot. */
export function startChild(command: string, args: readonly string[], options: ChildOptions): ChildProcess {
  let child: NodeChildProcess;
  let env: Record<string, string | undefined>;
  try {
    // Inside the try: Deno throws NotCapable when our environment cannot be listed (no --allow-env).
    env = { ...process.env, ...options.env };
    child = spawnProcess(command, args.slice(), {
      stdio: ["ignore", "inherit", "inherit", ...(options.descriptors ?? [])],
      env,
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
  } catch (error) {
    throw new Error(`Cannot start "${command}": ${error instanceof Error ? error.message : String(error)}`);
  }
  // Always listening: a failed start and a failed kill both come as 'error' events, which would
  // otherwise be thrown as uncaught.
  child.on("error", () => {});
  if (child.pid === undefined) throw new Error(`Cannot start "${command}": ${startFailure(command, env)}`);
  const inherited = options.inherited ?? (options.descriptors ?? []).map((_, index) => FIRST_STDIO_EXTRA_FD + index);
  return new SpawnedChild(child, child.pid, inherited);
}

/** The child's number of the first descriptor given after stdin, stdout and stderr in `stdio`. */
const FIRST_STDIO_EXTRA_FD = 3;

/** A started node:child_process child behind the contract's ChildProcess. */
class SpawnedChild implements ChildProcess {
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  readonly inherited: readonly number[];
  private readonly child: NodeChildProcess;

  constructor(child: NodeChildProcess, pid: number, inherited: readonly number[]) {
    this.child = child;
    this.pid = pid;
    this.inherited = inherited;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  kill(signal: KillSignalName): boolean {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return false;
    // By pid, not child.kill: Deno's child.kill delivers only the first signal sent to a child and
    // then reports that signal as its cause of exit, whatever the child did with it.
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}

/** Why a start failed, found now (the errno comes a tick later): a PATH search for the usual causes. */
function startFailure(command: string, env: Readonly<Record<string, string | undefined>>): string {
  const candidates = command.includes("/") || isAbsolute(command)
    ? [command]
    : (env.PATH ?? "").split(delimiter).filter((dir) => dir !== "").map((dir) => join(dir, command));
  let found = false;
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      found = true;
      accessSync(candidate, constants.X_OK);
      // It exists and is executable: the cause is elsewhere (out of processes or file descriptors).
      return "the system refused to start it";
    } catch {
      // Missing, unreadable, or not executable: try the next directory of PATH.
    }
  }
  if (found) return "permission denied (not executable)";
  return command.includes("/") ? "no such file" : "command not found in PATH";
}
