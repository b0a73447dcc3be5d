/**
 * The command line: picks the command, runs it, and turns its outcome into an exit code.
 *
 * citty runs a parent command's `run` after a subcommand's, so commands are dispatched here and
 * citty parses arguments and renders help.
 *
 * @module
 */

import { defineCommand, renderUsage } from "citty";
import type { ArgsDef, CommandDef } from "citty";
import type { Runtime } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { COMMON_ARGS, parseStrict } from "./args.ts";
import { consoleLogger, createConsole } from "./console_logger.ts";
import { verbosityOfArgs } from "../lifecycle/worker_logger.ts";
import { DEMO_ARGS, demoCommand } from "./demo_command.ts";
import { EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, exitCodeFor, UsageError } from "./exit_codes.ts";
import { RUN_ARGS, runCommand } from "./run_command.ts";
import { CTL_ARGS, ctlCommand } from "./ctl_command.ts";
import { detailedVersionLines, versionLines } from "./version_command.ts";

const demoDefinition = defineCommand({
  meta: { name: "demo", description: "Start two built-in origins and the proxy in front of them" },
  args: DEMO_ARGS,
});

const checkDefinition = defineCommand({
  meta: { name: "check", description: "Check configuration files without binding anything (same as -c)" },
  args: RUN_ARGS,
});

const ctlDefinition = defineCommand({
  meta: { name: "ctl", description: "Send a command to a running proxy's runtime API (stats-socket) and print the answer" },
  args: CTL_ARGS,
});

const versionDefinition = defineCommand({
  meta: { name: "version", description: "Print version, runtime, platform and event poller (-vv: build and features too)" },
  args: COMMON_ARGS,
});

const mainDefinition = defineCommand({
  meta: { name: "proxy", version: VERSION, description: "A load balancer and reverse proxy in the spirit of HAProxy" },
  args: RUN_ARGS,
  subCommands: { check: checkDefinition, ctl: ctlDefinition, demo: demoDefinition, version: versionDefinition },
});

function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes("--help") || argv.includes("-h");
}

async function usage<T extends ArgsDef>(definition: CommandDef<T>, parent?: CommandDef<ArgsDef>): Promise<string> {
  // citty types the parent with the child's argument shape; any definition renders the same.
  return (await renderUsage(definition as unknown as CommandDef<ArgsDef>, parent)) + "\n";
}

/** `proxy version [-vv]`; any other argument is a usage error. */
function versionCommand(args: readonly string[], runtime: Runtime): number {
  const detailed = args.includes("-vv");
  parseStrict(args.filter((arg) => arg !== "-vv"), COMMON_ARGS);
  runtime.writeStdout((detailed ? detailedVersionLines(runtime) : versionLines(runtime)).join("\n") + "\n");
  return EXIT_OK;
}

/** The arguments of `proxy ctl` before its first word that is not an option. */
function ctlOptions(args: readonly string[]): readonly string[] {
  const first = args.findIndex((arg) => !arg.startsWith("-"));
  return first === -1 ? args : args.slice(0, first);
}

/** Runs the command line `argv` (without program name) and resolves with the exit code. */
export async function runCli(argv: string[], runtime: Runtime): Promise<number> {
  const console = createConsole(verbosityOfArgs(argv));
  const logger = consoleLogger(console);
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "demo":
        if (wantsHelp(rest)) {
          runtime.writeStdout(await usage(demoDefinition, mainDefinition as unknown as CommandDef<ArgsDef>));
          return EXIT_OK;
        }
        return await demoCommand(rest, runtime, logger);
      case "check":
        if (wantsHelp(rest)) {
          runtime.writeStdout(await usage(checkDefinition, mainDefinition as unknown as CommandDef<ArgsDef>));
          return EXIT_OK;
        }
        return await runCommand([...rest, "--check"], runtime, logger);
      case "ctl":
        // Help only among the options before the command: `proxy ctl help` asks the proxy for its commands.
        if (wantsHelp(ctlOptions(rest))) {
          runtime.writeStdout(await usage(ctlDefinition, mainDefinition as unknown as CommandDef<ArgsDef>));
          return EXIT_OK;
        }
        return await ctlCommand(rest, runtime);
      case "version":
        if (wantsHelp(rest)) {
          runtime.writeStdout(await usage(versionDefinition, mainDefinition as unknown as CommandDef<ArgsDef>));
          return EXIT_OK;
        }
        return versionCommand(rest, runtime);
      case "help":
        runtime.writeStdout(await usage(mainDefinition));
        return EXIT_OK;
    }
    if (argv.length === 0 || wantsHelp(argv)) {
      runtime.writeStdout(await usage(mainDefinition));
      return argv.length === 0 ? EXIT_USAGE : EXIT_OK;
    }
    // HAProxy's `haproxy -vv`.
    if (command === "-vv") return versionCommand(argv, runtime);
    if (argv.includes("--version") || argv.includes("-v")) {
      runtime.writeStdout(`${VERSION}\n`);
      return EXIT_OK;
    }
    if (command !== undefined && !command.startsWith("-")) {
      throw new UsageError(`Unknown command "${command}": expected check, ctl, demo or version, or options (see --help)`);
    }
    return await runCommand(argv, runtime, logger);
  } catch (error) {
    const code = exitCodeFor(error);
    if (code === EXIT_INTERNAL) {
      console.error(error);
    } else {
      console.error(error instanceof Error ? error.message : String(error));
      if (error instanceof UsageError) console.info('Run "proxy --help" for the options.');
    }
    return code;
  }
}
