/**
 * The host executable jailed: `chroot` into an empty directory (HAProxy's `chroot`), checked from
 * the outside in /proc/PID/root, then requests through it and a graceful stop by SIGUSR1. Needs
 * root (chroot(2) does) and Linux (the call is made through FFI there only).
 *
 * @module
 */

import { chmodSync, mkdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { closeAll, httpGet, httpOrigin, responseBody, startOrigins } from "./origins.ts";
import { startListening } from "./proxy_process.ts";
import type { Subject } from "./subject.ts";
import { timeouts } from "./subject.ts";

/** Requests put through the jailed proxy. */
const REQUESTS = 200;

/** Why this check cannot run here, or null. */
export function chrootSkipReason(): string | null {
  if (process.platform !== "linux") return "chroot is called through FFI on Linux only";
  if (process.getuid?.() !== 0) return "needs root: only root (or CAP_SYS_CHROOT) may chroot";
  return null;
}

function configText(jail: string, servers: readonly string[]): string {
  return `[global]
chroot = "${jail}"

[frontends.web]
mode = "http"
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
mode = "http"
servers = [
${servers.map((address, index) => `  { name = "s${index + 1}", address = "${address}" },`).join("\n")}
]
`;
}

/** `proxy -f jailed.toml` with `chroot` set: jailed, serves, stops on SIGUSR1 with exit 0. */
export async function servesChrooted(subject: Subject): Promise<string> {
  const limits = timeouts(subject);
  const jail = join(subject.workDirectory, "jail");
  mkdirSync(jail);
  chmodSync(jail, 0o755);
  const origins = await startOrigins(["A", "B"], httpOrigin);
  try {
    const file = join(subject.workDirectory, "jailed.toml");
    writeFileSync(file, configText(jail, origins.map((origin) => origin.address)));
    const { proxy, port } = await startListening(
      subject.launcher,
      subject.binary,
      ["-f", file],
      limits.start,
    );
    try {
      await proxy.waitFor(/File system closed: chrooted into/, limits.request);
      const root = readlinkSync(`/proc/${proxy.pid}/root`);
      if (root !== jail) throw new Error(`/proc/${proxy.pid}/root is "${root}", expected "${jail}"`);
      const seen = new Set<string>();
      for (let i = 0; i < REQUESTS; i++) seen.add(responseBody(await httpGet(port, "/", limits.request)));
      if (seen.size !== 2) throw new Error(`Expected answers from both origins, got ${[...seen].join(", ")}`);
      proxy.sendSignal("SIGUSR1");
      const code = await proxy.waitExit(limits.exit);
      if (code !== 0) throw new Error(`${proxy.ending}, expected exit code 0:\n${proxy.outputTail()}`);
      if (/Internal error/.test(proxy.stderr)) {
        throw new Error(`Internal error in the output:\n${proxy.outputTail()}`);
      }
      return `/proc/PID/root is the empty directory, ${REQUESTS} requests answered by both origins, exit 0 on SIGUSR1`;
    } finally {
      await proxy.stop();
    }
  } finally {
    await closeAll(origins);
  }
}
