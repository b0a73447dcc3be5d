/**
 * Command-line options of scripts/smoke.ts.
 *
 * @module
 */

import { parseArgs } from "node:util";

export interface SmokeOptions {
  /** Where the executables are. */
  readonly dist: string;
  /** Only dist/proxy, the executable for this machine (what CI builds). */
  readonly hostOnly: boolean;
  /** One target's executable (`host` for dist/proxy); undefined for all of them. */
  readonly target: string | undefined;
  /** Time five starts per executable instead of one. */
  readonly measure: boolean;
  readonly help: boolean;
}

export const USAGE = `Usage: node scripts/smoke.ts [options]

Smoke-tests the executables of \`npm run build\`. dist/proxy (this machine's) runs the quick start
in tcp and http mode, a configuration file, \`check\` and a graceful stop by SIGUSR1. Every
dist/proxy-<target> is checked for its format, architecture and size; those this machine can run
(natively, a musl build under the musl loader, linux-arm64 under qemu-user) also run the quick
start. Each executable that runs gets its start-to-listening time measured.

  --dist DIR       where the executables are (default: dist/ of the repository)
  --host-only      dist/proxy only; the other targets need not exist (CI)
  --target NAME    one executable: host (dist/proxy) or a target such as linux-arm64
  --measure        time 5 starts per executable and report the median (default: 1 start)
  --help           this text
`;

/** Parses `argv` (without the runtime and script); throws on anything it does not know. */
export function parseSmokeOptions(argv: readonly string[], defaultDist: string): SmokeOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      dist: { type: "string" },
      "host-only": { type: "boolean" },
      target: { type: "string" },
      measure: { type: "boolean" },
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values["host-only"] === true && values.target !== undefined && values.target !== "host") {
    throw new Error(`Cannot combine --host-only with --target "${values.target}"`);
  }
  return {
    dist: values.dist ?? defaultDist,
    hostOnly: values["host-only"] === true,
    target: values.target,
    measure: values.measure === true,
    help: values.help === true,
  };
}
