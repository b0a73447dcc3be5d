/**
 * The two origin servers every contender forwards to: nginx when installed (it is what real
 * deployments put behind a proxy, and it costs little CPU per request), otherwise our built-in one.
 *
 * @module
 */

import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BODY_PATHS, LARGE_BODY_BYTES, SMALL_BODY } from "./bodies.ts";
import type { ConnectionLimits } from "./configs.ts";
import { nginxForegroundArgs, nginxOriginConfig } from "./configs.ts";
import type { ProcessRegistry, TrackedProcess } from "./processes.ts";
import { freePort, waitUntilListening } from "./processes.ts";

/** Which implementation serves as origin. */
export type OriginKind = "nginx" | "built-in";

/** The running origins. */
export type Origins = {
  kind: OriginKind;
  note: string;
  ports: number[];
  processes: TrackedProcess[];
};

/** What starting the origins needs. */
export type OriginSetup = {
  registry: ProcessRegistry;
  directory: string;
  nginxPath: string | null;
  cpuList: string | null;
  limits: ConnectionLimits;
  /** The runtime that runs the built-in origin (the one running this script). */
  runtimePath: string;
};

const ORIGIN_COUNT = 2;
const READY_TIMEOUT_MS = 10_000;

/** Starts the origins (two unless asked) and checks that each serves both bodies with the right sizes. */
export async function startOrigins(setup: OriginSetup, count = ORIGIN_COUNT): Promise<Origins> {
  const ports: number[] = [];
  const processes: TrackedProcess[] = [];
  const largeFilePath = join(setup.directory, "1mb.bin");
  if (setup.nginxPath !== null) writeFileSync(largeFilePath, Buffer.alloc(LARGE_BODY_BYTES, "x"));

  for (let index = 0; index < count; index++) {
    const port = await freePort();
    const name = `origin${index + 1}`;
    let tracked: TrackedProcess;
    if (setup.nginxPath !== null) {
      const configPath = join(setup.directory, `${name}.conf`);
      writeFileSync(
        configPath,
        nginxOriginConfig(
          { directory: setup.directory, name },
          port,
          SMALL_BODY,
          largeFilePath,
          setup.limits,
        ),
      );
      tracked = setup.registry.spawn({
        name,
        command: setup.nginxPath,
        args: nginxForegroundArgs(setup.directory, name, configPath),
        cpuList: setup.cpuList,
        raiseFileLimit: true,
      });
    } else {
      const script = join(dirname(fileURLToPath(import.meta.url)), "builtin_origin.ts");
      tracked = setup.registry.spawn({
        name,
        command: setup.runtimePath,
        args: [script, String(port)],
        cpuList: setup.cpuList,
        raiseFileLimit: true,
      });
    }
    processes.push(tracked);
    await waitUntilListening(tracked, port, READY_TIMEOUT_MS);
    ports.push(port);
  }

  for (const port of ports) await verifyOrigin(port);
  return {
    kind: setup.nginxPath !== null ? "nginx" : "built-in",
    note: setup.nginxPath !== null
      ? `origins: ${countWord(count)} nginx instances (Debian), one worker each`
      : `origins: ${countWord(count)} built-in node:net origins (nginx is not installed: apt-get install -y nginx)`,
    ports,
    processes,
  };
}

function countWord(count: number): string {
  return ["no", "one", "two", "three", "four"][count] ?? String(count);
}

async function verifyOrigin(port: number): Promise<void> {
  const small = await fetch(`http://127.0.0.1:${port}${BODY_PATHS.small}`);
  const smallText = await small.text();
  if (small.status !== 200 || smallText !== SMALL_BODY) {
    throw new Error(`Origin on port "${port}" answered ${small.status} "${smallText.slice(0, 40)}" to GET /`);
  }
  const large = await fetch(`http://127.0.0.1:${port}${BODY_PATHS["1mb"]}`);
  const largeBytes = (await large.arrayBuffer()).byteLength;
  if (large.status !== 200 || largeBytes !== LARGE_BODY_BYTES) {
    throw new Error(`Origin on port "${port}" answered ${large.status} with ${largeBytes} bytes to GET /1mb`);
  }
}
