/**
 * `proxy version`: what this build is and what it runs on; `proxy version -vv` (or `proxy -vv`,
 * as `haproxy -vv`) adds how it was built and which features it has.
 *
 * @module
 */

import type { Runtime, RuntimeInfo } from "../runtime/types.ts";
import { buildInfo } from "../build_info.ts";
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

/** One feature of the build: whether it has it, and what that means here. */
interface Feature {
  readonly name: string;
  readonly present: boolean;
  readonly detail: string;
}

function jailDetail(info: RuntimeInfo): string {
  switch (info.jail) {
    case "deno-permissions":
      return "-W workers run under Deno's permissions: the network and their own variables";
    case "node-permission-model":
      // A single executable application has its code inside: its workers need no read at all.
      return `-W workers run under Node's permission model: ${info.compiled ? "no file access" : "reading the program only"}`;
    case "none":
      if (info.name === "bun") return "Bun has no permission model: -W workers run with the master's rights";
      return "a compiled executable restarts itself with the permissions it was built with";
  }
}

function chrootDetail(info: RuntimeInfo): string {
  if (info.chroot) {
    const via = info.name === "deno"
      ? "Deno's FFI (--allow-ffi; -W workers get it until they are chrooted)"
      : `${info.name === "bun" ? "bun:ffi" : "FFI"}`;
    return `"chroot" is applied after binding, standalone and in -W workers: chroot(2) through ${via}`;
  }
  if (info.name === "node") {
    return "Node has no FFI: with \"chroot\", -W workers are jailed by the permission model instead, a standalone process refuses to start";
  }
  if (info.os !== "linux") return `chroot(2) is called through FFI on Linux only, not on ${info.os}`;
  if (info.name === "deno") {
    return info.compiled
      ? "this deno compile build has no FFI permission: \"chroot\" is refused"
      : "Deno runs without --allow-ffi here: \"chroot\" is refused";
  }
  return "chroot(2) cannot be called here";
}

/** What TLS termination honours here: node:tls on every runtime, with its TLS library's limits (config.md, bind with TLS). */
function tlsDetail(info: RuntimeInfo): string {
  const versions = info.tls.versions.map((version) => (version === "TLSv1" ? "TLSv1.0" : version)).join(", ");
  const lists = [info.tls.ciphers ? '"ciphers"' : "", info.tls.ciphersuites ? '"ciphersuites"' : ""].filter((list) => list !== "");
  const choice = lists.length === 0 ? "no cipher list can be chosen" : `${lists.join(" and ")} can be set`;
  return `binds terminate TLS (node:tls): ${versions}; ${choice}`;
}

/** The features `version -vv` lists, from what the runtime reports of this machine. */
export function buildFeatures(info: RuntimeInfo): Feature[] {
  return [
    {
      name: "reuseport",
      present: info.reusePort,
      detail: info.reusePort
        ? "SO_REUSEPORT listeners: reloads bind beside the old process"
        : "no SO_REUSEPORT here: a reload pauses the old process while it binds",
    },
    { name: "tls", present: true, detail: tlsDetail(info) },
    {
      name: "privilege-drop",
      present: info.identity,
      detail: info.identity ? "user and group are changed after binding" : "user and group cannot be changed here",
    },
    { name: "permission-jail", present: info.jail !== "none", detail: jailDetail(info) },
    { name: "chroot", present: info.chroot, detail: chrootDetail(info) },
  ];
}

/** The lines `proxy version -vv` prints. */
export function detailedVersionLines(runtime: Runtime): string[] {
  const info = runtime.info;
  const build = buildInfo();
  const fromSource = "unknown (run from source)";
  const features = buildFeatures(info);
  const [name, ...platform] = versionLines(runtime);
  return [
    name!,
    `commit: ${build?.commit ?? fromSource}`,
    `build date: ${build?.date ?? fromSource}`,
    `target: ${build === undefined ? `${info.os}-${info.arch} (run from source)` : `${build.target} (${build.compiler})`}`,
    ...platform,
    `features: ${features.map((feature) => `${feature.present ? "+" : "-"}${feature.name}`).join(" ")}`,
    ...features.map((feature) => `  ${feature.name}: ${feature.detail}`),
  ];
}
