/**
 * The entry point for every runtime and for compiled executables. No top-level await: compilers and
 * some runtimes load the entry synchronously.
 *
 * A -W worker (`proxy __worker`, started by its master) is told apart before anything else is
 * loaded: the CLI's libraries (citty, consola) read environment variables when imported, which
 * ends a jailed Deno worker, allowed to read only the variables its master gave it. Both the CLI
 * and the worker are therefore loaded by dynamic imports with literal paths, which the compilers
 * (`bun build --compile`, `deno compile`) follow as they follow static ones.
 *
 * @module
 */

import { createRuntime, currentRuntime, detectRuntimeName } from "./runtime/detect.ts";
import type { Runtime } from "./runtime/types.ts";
import { EXIT_FAILURE, EXIT_INTERNAL } from "./cli/exit_codes.ts";
import { WORKER_COMMAND } from "./lifecycle/worker_command.ts";

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

function main(): void {
  let runtime: Runtime;
  try {
    runtime = currentRuntime();
  } catch (error) {
    // A bad PROXY_SOCKETS value: report it through the runtime's default build.
    const fallback: Runtime = createRuntime(detectRuntimeName());
    fallback.writeStderr(`[proxy] ${error instanceof Error ? error.message : String(error)}\n`);
    fallback.exit(EXIT_FAILURE);
  }
  // A proxy must outlive a bug in one session: report it and keep serving the others.
  runtime.onUncaughtError((error) => {
    runtime.writeStderr(`[proxy] Internal error (kept running): ${describe(error)}\n`);
  });
  const args = runtime.args();
  const run: Promise<number> = args[0] === WORKER_COMMAND
    ? import("./lifecycle/worker.ts").then((worker) => worker.runWorker(runtime))
    : import("./cli/main.ts").then((cli) => cli.runCli(args, runtime));
  run.then(
    (code) => runtime.exit(code),
    (error: unknown) => {
      runtime.writeStderr(`[proxy] ${describe(error)}\n`);
      runtime.exit(EXIT_INTERNAL);
    },
  );
}

main();
