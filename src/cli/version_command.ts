/**
 * `proxy version`: what this build is and what it runs on.
 *
 * @module
 */

import type { Runtime } from "../runtime/types.ts";
import { VERSION } from "../version.ts";

const POLLERS: Record<string, string> = {
  linux: "epoll",
  android: "epoll",
  darwin: "kqueue",
  freebsd: "kqueue",
  openbsd: "kqueue",
  netbsd: "kqueue",
  win32: "IOCP",
};

/** The event poller the runtime's event loop uses on this OS (libuv, uSockets and tokio all pick the same). */
export function eventPollerFor(os: string): string {
  return POLLERS[os] ?? "poll";
}

/** The lines `proxy version` prints. */
export function versionLines(runtime: Runtime): string[] {
  const info = runtime.info;
  return [
    `proxy ${VERSION}`,
    `runtime: ${info.name} ${info.version}${info.compiled ? " (compiled executable)" : ""}`,
    `platform: ${info.os}/${info.arch}`,
    `poller: ${eventPollerFor(info.os)}`,
    `sockets: ${info.socketApi}`,
  ];
}
