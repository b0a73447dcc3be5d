/**
 * The entry point for every runtime and for compiled executables. No top-level await: compilers and
 * some runtimes load the entry synchronously.
 *
 * @module
 */

import { createRuntime, currentRuntime, detectRuntimeName } from "./runtime/detect.ts";
import type { Runtime } from "./runtime/types.ts";
import { runCli } from "./cli/main.ts";
import { EXIT_FAILURE, EXIT_INTERNAL } from "./cli/exit_codes.ts";

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
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    runtime.writeStderr(`[proxy] Internal error (kept running): ${text}\n`);
  });
  runCli(runtime.args(), runtime).then(
    (code) => runtime.exit(code),
    (error: unknown) => {
      runtime.writeStderr(`[proxy] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      runtime.exit(EXIT_INTERNAL);
    },
  );
}

main();
