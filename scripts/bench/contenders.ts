/**
 * The proxies under test: ours on each runtime (and the compiled binary), HAProxy and nginx, in
 * tcp mode, http mode and http mode behind their own TLS termination ("https"), ours and
 * HAProxy once more with traffic logging on ("ours/node+log", "haproxy+log"), and ours once more
 * showing its stats on a second frontend ("ours/node+stats"), and the JavaScript peers in http mode
 * ("peer/bun-fetch" and the others of peer_proxies.ts: what a user could write in a few lines),
 * and the socket-layer floors in tcp and http mode ("floor/node", "floor/bun", "floor/deno" of
 * floor_proxies.ts: the least work a proxy can do on the socket layer ours uses on that runtime).
 * What is not installed is reported with the command that would install it, never skipped
 * silently.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { BODY_PATHS, SMALL_BODY } from "./bodies.ts";
import type { ConnectionLimits } from "./configs.ts";
import { haproxyConfig, nginxForegroundArgs, nginxHttpProxyConfig, nginxStreamConfig } from "./configs.ts";
import { FLOOR_PROXIES } from "./floor_proxies.ts";
import { PEER_PROXIES } from "./peer_proxies.ts";
import type { PeerRuntime } from "./peer_proxies.ts";
import { LOGGING_SUFFIX, STATS_SUFFIX } from "./report.ts";
import type { ProcessRegistry, TrackedProcess } from "./processes.ts";
import { firstOutputLine, freePort, hasCommand, waitUntilListening } from "./processes.ts";

/** The proxy modes a contender can be run in; "https" is http mode on a bind that terminates TLS. */
export type ProxyMode = "tcp" | "http" | "https";

/** The command line that starts one contender in one mode. */
type Launch = { command: string; args: string[]; env?: Record<string, string | undefined> };

/** A contender that is installed, and how to start it. */
export type ContenderSpec = {
  name: string;
  isOurs: boolean;
  /** Sends one traffic line per request to the log receiver (a "+log" variant). */
  logging: boolean;
  /** Shows its stats on a second port, which the benchmark scrapes (a "+stats" variant). */
  stats: boolean;
  /**
   * A JavaScript peer proxy (issue 21): measured per request only, left out of the memory
   * scenario, where the idle timeouts of node:http (5 s) and Bun.serve (10 s) would close
   * connections while the 10,000 are being opened.
   */
  peer: boolean;
  modes: ProxyMode[];
  /** `statsPort` is the stats frontend's port for a "+stats" variant, null for the others. */
  launch: (
    mode: ProxyMode,
    port: number,
    backends: readonly string[],
    setup: ContenderSetup,
    statsPort: number | null,
  ) => Launch;
};

/** What starting a contender needs. */
export type ContenderSetup = {
  registry: ProcessRegistry;
  directory: string;
  projectRoot: string;
  cpuList: string | null;
  limits: ConnectionLimits;
  proxyEnv: Record<string, string>;
  /** The UDP port of the log receiver on 127.0.0.1; null when no logging contender runs. */
  logPort: number | null;
  /** PEM file (chain and key) every contender serves in https mode; null when no https row runs. */
  certificatePath: string | null;
};

/** A contender listening and forwarding. */
export type RunningContender = {
  name: string;
  mode: ProxyMode;
  port: number;
  /** The stats frontend's port of a "+stats" contender; null for the others. */
  statsPort: number | null;
  process: TrackedProcess;
};

/** Which contenders can run here, and a line for each one that cannot. */
export type Discovery = { specs: ContenderSpec[]; skipped: string[] };

/** How a run starts ours where it has a choice. */
export type DiscoveryOptions = {
  /**
   * The Node bundle this run built (node_bundle.ts): ours/node, ours/node+log and ours/node+stats
   * run it instead of src/main.ts, as Node runs in production. null: from the sources.
   */
  nodeBundle: string | null;
};

/** Our proxy's entry point, relative to the project root. */
export const OUR_ENTRY = "src/main.ts";

/** A runtime binary of the project's dev dependencies and the arguments that come before a script. */
export type RuntimeCommand = { binary: string; prefix: readonly string[] };

/** How each runtime runs a script of the project: `node F`, `bun F`, `deno run -A F`. */
export function runtimeCommand(projectRoot: string, runtime: PeerRuntime): RuntimeCommand {
  return {
    binary: join(projectRoot, "node_modules", ".bin", runtime),
    prefix: runtime === "deno" ? ["run", "-A"] : [],
  };
}
const READY_TIMEOUT_MS = 20_000;

function nginxStreamModule(nginxPath: string): { loadPath: string | null; missing: boolean } {
  const result = spawnSync(nginxPath, ["-V"], { encoding: "utf8" });
  const configure = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (/--with-stream(\s|$)/.test(configure)) return { loadPath: null, missing: false }; // built in
  for (
    const candidate of [
      "/usr/lib/nginx/modules/ngx_stream_module.so",
      "/usr/share/nginx/modules/ngx_stream_module.so",
    ]
  ) {
    if (existsSync(candidate)) return { loadPath: candidate, missing: false };
  }
  return { loadPath: null, missing: true };
}

/**
 * Our proxy's quick-start flags; with `logPort`, `--log udp://127.0.0.1:PORT` on top: one httplog
 * line per request (HAProxy's default local header, local0) to the log receiver, and nothing else
 * changed. With `statsPort`, `--stats 127.0.0.1:PORT` on top: a second http frontend ("stats") on
 * that port with `stats-uri` and `metrics-uri`, which also makes every session of the proxy time
 * its phases. https mode is http mode with `--cert`, which makes the bind terminate TLS.
 */
export function ourFlags(
  mode: ProxyMode,
  port: number,
  backends: readonly string[],
  logPort: number | null = null,
  certificatePath: string | null = null,
  statsPort: number | null = null,
): string[] {
  const flags = [
    "--bind",
    `127.0.0.1:${port}`,
    "--backend",
    backends.join(","),
    "--mode",
    mode === "https" ? "http" : mode,
  ];
  if (mode === "https") {
    if (certificatePath === null) throw new Error("https mode needs a certificate");
    flags.push("--cert", certificatePath);
  }
  if (logPort !== null) flags.push("--log", `udp://127.0.0.1:${logPort}`);
  if (statsPort !== null) flags.push("--stats", `127.0.0.1:${statsPort}`);
  return flags;
}

function requireStatsPort(statsPort: number | null): number {
  if (statsPort === null) throw new Error("A stats contender needs a port for its stats frontend");
  return statsPort;
}

function requireLogPort(setup: ContenderSetup): number {
  if (setup.logPort === null) throw new Error("A logging contender needs the log receiver's port");
  return setup.logPort;
}

/** The certificate of an https contender; null in the other modes. */
function certificateFor(mode: ProxyMode, setup: ContenderSetup): string | null {
  if (mode !== "https") return null;
  if (setup.certificatePath === null) throw new Error("An https contender needs the benchmark's certificate");
  return setup.certificatePath;
}

/** Finds every contender this machine can run. */
export function discoverContenders(
  projectRoot: string,
  options: DiscoveryOptions = { nodeBundle: null },
): Discovery {
  const specs: ContenderSpec[] = [];
  const skipped: string[] = [];
  const sources = join(projectRoot, OUR_ENTRY);
  const withProxyEnv = (setup: ContenderSetup): Record<string, string | undefined> => ({
    ...process.env,
    ...setup.proxyEnv,
  });

  const runtimes = (["node", "bun", "deno"] as const).map((name) => ({
    name,
    ...runtimeCommand(projectRoot, name),
    entry: name === "node" && options.nodeBundle !== null ? options.nodeBundle : sources,
  }));
  if (!existsSync(sources)) {
    skipped.push(`ours: skipped ("${OUR_ENTRY}" not found)`);
  } else {
    for (const runtime of runtimes) {
      if (!existsSync(runtime.binary)) {
        skipped.push(`ours/${runtime.name}: skipped ("${runtime.binary}" not found: run npm install)`);
        continue;
      }
      specs.push({
        name: `ours/${runtime.name}`,
        isOurs: true,
        logging: false,
        stats: false,
        peer: false,
        modes: ["tcp", "http", "https"],
        launch: (mode, port, backends, setup) => ({
          command: runtime.binary,
          args: [...runtime.prefix, runtime.entry, ...ourFlags(mode, port, backends, null, certificateFor(mode, setup))],
          env: withProxyEnv(setup),
        }),
      });
      // The same command line plus traffic logging, in http mode, where it is per request.
      specs.push({
        name: `ours/${runtime.name}${LOGGING_SUFFIX}`,
        isOurs: true,
        logging: true,
        stats: false,
        peer: false,
        modes: ["http"],
        launch: (mode, port, backends, setup) => ({
          command: runtime.binary,
          args: [...runtime.prefix, runtime.entry, ...ourFlags(mode, port, backends, requireLogPort(setup))],
          env: withProxyEnv(setup),
        }),
      });
      // The same command line plus a stats frontend on a port of its own, in http mode, where
      // the stats' cost per request shows against a small response (issue 20).
      specs.push({
        name: `ours/${runtime.name}${STATS_SUFFIX}`,
        isOurs: true,
        logging: false,
        stats: true,
        peer: false,
        modes: ["http"],
        launch: (mode, port, backends, setup, statsPort) => ({
          command: runtime.binary,
          args: [
            ...runtime.prefix,
            runtime.entry,
            ...ourFlags(mode, port, backends, null, null, requireStatsPort(statsPort)),
          ],
          env: withProxyEnv(setup),
        }),
      });
    }
  }
  const compiled = join(projectRoot, "dist", "proxy");
  if (existsSync(compiled)) {
    specs.push({
      name: "ours/binary",
      isOurs: true,
      logging: false,
      stats: false,
      peer: false,
      modes: ["tcp", "http", "https"],
      launch: (mode, port, backends, setup) => ({
        command: compiled,
        args: ourFlags(mode, port, backends, null, certificateFor(mode, setup)),
        env: withProxyEnv(setup),
      }),
    });
  } else {
    skipped.push('ours/binary: skipped ("dist/proxy" not built)');
  }

  if (hasCommand("haproxy")) {
    specs.push({
      name: "haproxy",
      isOurs: false,
      logging: false,
      stats: false,
      peer: false,
      modes: ["tcp", "http", "https"],
      launch: (mode, port, backends, setup) => {
        const configPath = join(setup.directory, `haproxy-${mode}-${port}.cfg`);
        writeFileSync(
          configPath,
          haproxyConfig(
            mode === "https" ? "http" : mode,
            port,
            backends,
            setup.limits,
            null,
            certificateFor(mode, setup),
          ),
        );
        return { command: "haproxy", args: ["-db", "-f", configPath] };
      },
    });
    specs.push({
      name: `haproxy${LOGGING_SUFFIX}`,
      isOurs: false,
      logging: true,
      stats: false,
      peer: false,
      modes: ["http"],
      launch: (mode, port, backends, setup) => {
        const configPath = join(setup.directory, `haproxy-${mode}-log-${port}.cfg`);
        writeFileSync(configPath, haproxyConfig("http", port, backends, setup.limits, requireLogPort(setup)));
        return { command: "haproxy", args: ["-db", "-f", configPath] };
      },
    });
  } else {
    skipped.push("haproxy: skipped (not installed: apt-get install -y haproxy)");
  }

  if (hasCommand("nginx")) {
    const stream = nginxStreamModule("nginx");
    const modes: ProxyMode[] = stream.missing ? ["http", "https"] : ["tcp", "http", "https"];
    if (stream.missing) {
      skipped.push("nginx tcp: skipped (stream module not found: apt-get install -y libnginx-mod-stream)");
    }
    specs.push({
      name: "nginx",
      isOurs: false,
      logging: false,
      stats: false,
      peer: false,
      modes,
      launch: (mode, port, backends, setup) => {
        const name = `nginx-${mode}-${port}`;
        const paths = { directory: setup.directory, name };
        const configPath = join(setup.directory, `${name}.conf`);
        writeFileSync(
          configPath,
          mode === "tcp"
            ? nginxStreamConfig(paths, port, backends, stream.loadPath, setup.limits)
            : nginxHttpProxyConfig(paths, port, backends, setup.limits, certificateFor(mode, setup)),
        );
        return {
          command: "nginx",
          args: nginxForegroundArgs(setup.directory, name, configPath),
        };
      },
    });
  } else {
    skipped.push("nginx: skipped (not installed: apt-get install -y nginx libnginx-mod-stream)");
  }

  for (const peer of PEER_PROXIES) {
    const runtime = runtimes.find((candidate) => candidate.name === peer.runtime)!;
    const missingPackage = peer.packages.find((name) =>
      !existsSync(join(projectRoot, "node_modules", name, "package.json"))
    );
    if (!existsSync(runtime.binary)) {
      skipped.push(`${peer.name}: skipped ("${runtime.binary}" not found: run npm install)`);
    } else if (missingPackage !== undefined) {
      skipped.push(`${peer.name}: skipped (package "${missingPackage}" not installed: run npm install)`);
    } else {
      const program = join(projectRoot, peer.program);
      specs.push({
        name: peer.name,
        isOurs: false,
        logging: false,
        stats: false,
        peer: true,
        // http mode only: a few lines on top of the runtime's http server and client.
        modes: ["http"],
        launch: (_mode, port, backends) => ({
          command: runtime.binary,
          args: [...runtime.prefix, program, String(port), ...backends],
        }),
      });
    }
  }

  for (const floor of FLOOR_PROXIES) {
    const runtime = runtimes.find((candidate) => candidate.name === floor.runtime)!;
    if (!existsSync(runtime.binary)) {
      skipped.push(`${floor.name}: skipped ("${runtime.binary}" not found: run npm install)`);
      continue;
    }
    specs.push({
      name: floor.name,
      isOurs: false,
      logging: false,
      stats: false,
      peer: false,
      // In the memory scenario too: the layer's own cost of an idle connection.
      modes: ["tcp", "http"],
      launch: (mode, port, backends) => ({
        command: runtime.binary,
        args: [
          ...runtime.prefix,
          join(projectRoot, mode === "tcp" ? floor.programs.tcp : floor.programs.http),
          String(port),
          ...backends,
        ],
      }),
    });
  }
  return { specs, skipped };
}

/** A contender that could not be run, with the reason for its skip line. */
export type UnavailableContender = { unavailable: string };

/**
 * Starts a contender and checks that a request goes through it. When it cannot, the process is
 * stopped and the reason is returned for the skip line.
 */
export async function startContender(
  spec: ContenderSpec,
  mode: ProxyMode,
  backendPorts: readonly number[],
  setup: ContenderSetup,
): Promise<RunningContender | UnavailableContender> {
  const port = await freePort();
  const statsPort = spec.stats ? await freePort() : null;
  const backends = backendPorts.map((backendPort) => `127.0.0.1:${backendPort}`);
  const launch = spec.launch(mode, port, backends, setup, statsPort);
  const tracked = setup.registry.spawn({
    name: `${spec.name} ${mode}`,
    command: launch.command,
    args: launch.args,
    cwd: setup.projectRoot,
    env: launch.env,
    cpuList: setup.cpuList,
    raiseFileLimit: true,
  });
  try {
    await waitUntilListening(tracked, port, READY_TIMEOUT_MS);
  } catch (error) {
    await setup.registry.stop(tracked);
    const line = tracked.exitDescription !== null ? firstOutputLine(tracked) : (error as Error).message;
    const feature = spec.stats ? "stats" : mode === "https" ? "TLS termination" : "http mode";
    const reason = spec.isOurs && mode !== "tcp" && tracked.exitDescription !== null
      ? `${feature} not available: ${line}`
      : `failed to start: ${line}`;
    return { unavailable: reason };
  }
  try {
    await checkForwarding(port, mode === "https");
  } catch (error) {
    await setup.registry.stop(tracked);
    return { unavailable: `does not forward a request: ${(error as Error).message}` };
  }
  return { name: spec.name, mode, port, statsPort, process: tracked };
}

async function checkForwarding(port: number, tls: boolean): Promise<void> {
  const { status, text } = tls ? await getOverTls(port, BODY_PATHS.small) : await getPlain(port, BODY_PATHS.small);
  if (status !== 200 || text !== SMALL_BODY) {
    throw new Error(`GET / answered ${status} "${text.slice(0, 60)}"`);
  }
}

async function getPlain(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

/** GET over TLS with node:https: fetch has no portable way to accept the benchmark's own certificate. */
function getOverTls(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // The benchmark's certificate is self-issued; what is checked here is that TLS and forwarding work.
    const request = httpsRequest(
      { host: "127.0.0.1", port, path, rejectUnauthorized: false, agent: false, timeout: 5_000 },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => text += chunk);
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error("no answer within 5 s")));
    request.on("error", reject);
    request.end();
  });
}
