/**
 * CPU profiles of ours under the benchmark's load (issue 21: "a CPU profile of each runtime under
 * the benchmark's load saved with the run"), taken by `npm run bench -- --profile DIR` after the
 * measured rounds: for each ours/<runtime> of the run, in http and tcp mode, one more instance with
 * the runtime's profiler, driven by wrk on 16-byte responses for the run's duration and stopped
 * with SIGUSR1 (our graceful stop, on which the runtime writes its profile).
 *
 * - Node: `--cpu-prof`, sampling every 1 ms. It runs a twin of the measured bundle with its
 *   whitespace kept: the same code for the compiler (whitespace changes no bytecode), and the
 *   bundler's `// src/x.ts` comments, which whitespace minification drops, attribute each
 *   function to its source file. Without a bundle (its build failed) the sources run.
 * - Bun: `--cpu-prof` (1 ms) and `--cpu-prof-md`, Bun's own Markdown summary beside the profile.
 * - Deno 2.9 has no `--cpu-prof`: `--inspect=127.0.0.1:0` and the inspector's Profiler domain
 *   (inspector_profiler.ts), 1 ms, started and stopped around the wrk run. `--v8-flags=--prof`
 *   would log ticks instead, readable with `node --prof-process` across V8 versions, but its
 *   Deno frames are one lump (the deno binary is stripped) and it is no .cpuprofile.
 *
 * @module
 */

import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BODY_PATHS } from "./bodies.ts";
import type { ContenderSetup, ContenderSpec, ProxyMode } from "./contenders.ts";
import { OUR_ENTRY, ourFlags, runtimeCommand, startContender } from "./contenders.ts";
import { connectInspectorProfiler, inspectorUrlFrom } from "./inspector_profiler.ts";
import type { PeerRuntime } from "./peer_proxies.ts";
import type { BundleModules, CpuProfile, ProfileWindow } from "./profile_summary.ts";
import { bundleModules, formatProfileSummary, summarizeProfile } from "./profile_summary.ts";
import { asciiOnly, NODE_BUNDLE_FLAGS, run } from "../build/node_bundle.ts";
import { runWrk } from "./wrk.ts";

/** The sampling interval of every profiler here (Node's and Bun's default). */
export const SAMPLING_INTERVAL_MICROS = 1_000;
/** How long a profiled instance may take to stop after SIGUSR1 and write its profile. */
const GRACEFUL_STOP_TIMEOUT_MS = 15_000;
/** How long Deno may take to print its inspector's address. */
const INSPECTOR_TIMEOUT_MS = 10_000;

/** The modes profiled, in order. */
export const PROFILED_MODES = ["http", "tcp"] as const;

/** What the Node instance runs: the bundle's twin (with its module map) or the sources. */
export type NodeProfileEntry = { path: string; modules: BundleModules | null; description: string };

/** What the profiles need from the run. */
export type ProfileSetup = {
  /** Where the profiles and summary.txt go (absolute). */
  directory: string;
  projectRoot: string;
  contenderSetup: ContenderSetup;
  originPorts: readonly number[];
  /** The runtimes whose ours/<runtime> ran, and the modes of PROFILED_MODES that ran. */
  runtimes: readonly PeerRuntime[];
  modes: readonly (typeof PROFILED_MODES)[number][];
  nodeEntry: NodeProfileEntry;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  clientCpuList: string | null;
};

/** One profile taken, or why not. */
export type ProfileResult = {
  contender: string;
  mode: ProxyMode;
  /** The .cpuprofile written; null when none was. */
  profilePath: string | null;
  /** The summary's text; null when there is no profile to summarise. */
  summary: string | null;
  requestsPerSecond: number | null;
  failure: string | null;
};

/**
 * The Node bundle's twin for profiling: NODE_BUNDLE_FLAGS without `--minify-whitespace`, ASCII
 * only like the bundle, into `outfile`; with the modules found in it.
 */
export function buildProfilingBundle(
  projectRoot: string,
  outfile: string,
): { path: string; modules: BundleModules } {
  const flags = NODE_BUNDLE_FLAGS.filter((flag) => flag !== "--minify-whitespace");
  const bun = runtimeCommand(projectRoot, "bun").binary;
  run("bundle the proxy for Node with whitespace kept", bun, [
    "build",
    ...flags,
    join(projectRoot, OUR_ENTRY),
    "--outfile",
    outfile,
  ], projectRoot);
  const source = asciiOnly(readFileSync(outfile, "utf8"));
  writeFileSync(outfile, source);
  return { path: outfile, modules: bundleModules(outfile, source) };
}

function profilerFlags(runtime: PeerRuntime, directory: string, name: string): string[] {
  switch (runtime) {
    case "node":
      return [
        "--cpu-prof",
        "--cpu-prof-dir",
        directory,
        "--cpu-prof-name",
        `${name}.cpuprofile`,
        `--cpu-prof-interval=${SAMPLING_INTERVAL_MICROS}`,
      ];
    case "bun":
      // Bun appends ".cpuprofile" (and ".md") to the name itself.
      return ["--cpu-prof", "--cpu-prof-dir", directory, "--cpu-prof-name", name, "--cpu-prof-md"];
    case "deno":
      return ["--inspect=127.0.0.1:0"];
  }
}

/** Both clocks now, in microseconds. */
function clocksNow(): { monotonic: number; wall: number } {
  return {
    monotonic: Number(process.hrtime.bigint() / 1_000n),
    wall: Math.round((performance.timeOrigin + performance.now()) * 1_000),
  };
}

async function profileOne(
  setup: ProfileSetup,
  runtime: PeerRuntime,
  mode: "http" | "tcp",
): Promise<ProfileResult> {
  const contender = `ours/${runtime}`;
  const name = `ours-${runtime}-${mode}`;
  const profilePath = join(setup.directory, `${name}.cpuprofile`);
  const outcome = (failure: string | null, requestsPerSecond: number | null = null): ProfileResult => ({
    contender,
    mode,
    profilePath: existsSync(profilePath) ? profilePath : null,
    summary: null,
    requestsPerSecond,
    failure,
  });
  const { binary, prefix } = runtimeCommand(setup.projectRoot, runtime);
  const entry = runtime === "node" ? setup.nodeEntry.path : join(setup.projectRoot, OUR_ENTRY);
  const flags = profilerFlags(runtime, setup.directory, name);
  const spec: ContenderSpec = {
    name: `${contender} (profiled)`,
    isOurs: true,
    logging: false,
    stats: false,
    peer: false,
    modes: [mode],
    launch: (launchMode, port, backends, contenderSetup) => ({
      command: binary,
      args: [...prefix, ...flags, entry, ...ourFlags(launchMode, port, backends)],
      env: { ...process.env, ...contenderSetup.proxyEnv },
    }),
  };
  const { registry } = setup.contenderSetup;
  const started = await startContender(spec, mode, setup.originPorts, setup.contenderSetup);
  if ("unavailable" in started) return outcome(started.unavailable);
  const wrkRequest = (durationSeconds: number) => ({
    port: started.port,
    path: BODY_PATHS.small,
    durationSeconds,
    connections: setup.connections,
    cpuList: setup.clientCpuList,
    builtinRuntimePath: null,
  });
  let requestsPerSecond: number | null = null;
  let window: ProfileWindow;
  try {
    // Compiled and warm before the counted samples, as in the measured rounds.
    if (setup.warmupSeconds > 0) await runWrk(registry, wrkRequest(setup.warmupSeconds));
    const inspector = runtime === "deno"
      ? await connectInspectorProfiler(
        await inspectorUrlFrom(started.process.stderrPath, INSPECTOR_TIMEOUT_MS),
      )
      : null;
    try {
      await inspector?.start(SAMPLING_INTERVAL_MICROS);
      const before = clocksNow();
      const { result } = await runWrk(registry, wrkRequest(setup.durationSeconds));
      const after = clocksNow();
      requestsPerSecond = result.requestsPerSecond;
      window = {
        monotonicMicros: { start: before.monotonic, end: after.monotonic },
        wallMicros: { start: before.wall, end: after.wall },
      };
      if (inspector !== null) writeFileSync(profilePath, JSON.stringify(await inspector.stop()));
    } finally {
      inspector?.close();
    }
  } catch (error) {
    await registry.stop(started.process);
    return outcome(`wrk or the profiler failed: ${(error as Error).message}`, requestsPerSecond);
  }

  // Node and Bun write their profile on the way out of a graceful stop.
  process.kill(started.process.pid, "SIGUSR1");
  const stopped = await Promise.race([
    started.process.exited.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), GRACEFUL_STOP_TIMEOUT_MS)),
  ]);
  if (!stopped) {
    await registry.stop(started.process);
    return outcome(
      `did not stop within ${GRACEFUL_STOP_TIMEOUT_MS / 1_000} s of SIGUSR1, stopped with SIGTERM`,
      requestsPerSecond,
    );
  }
  if (!existsSync(profilePath) || statSync(profilePath).size === 0) {
    return outcome(
      `no profile written to "${profilePath}" (${started.process.exitDescription})`,
      requestsPerSecond,
    );
  }
  const profile = JSON.parse(readFileSync(profilePath, "utf8")) as CpuProfile;
  const rate = requestsPerSecond === null ? "-" : Math.round(requestsPerSecond).toLocaleString("en-US");
  const summary = summarizeProfile(profile, {
    projectRoot: setup.projectRoot,
    window,
    bundle: runtime === "node" ? setup.nodeEntry.modules : null,
    // Deno's inspector numbers the lines of the JavaScript Deno made of each file (comments gone).
    lineNumbers: runtime !== "deno",
  });
  const title = `${contender} ${mode} (${name}.cpuprofile; ${rate} req/s while profiled)`;
  return { ...outcome(null, requestsPerSecond), summary: formatProfileSummary(title, summary) };
}

/** Takes every profile of the run, one after the other. */
export async function takeCpuProfiles(setup: ProfileSetup): Promise<ProfileResult[]> {
  const results: ProfileResult[] = [];
  for (const runtime of setup.runtimes) {
    for (const mode of setup.modes) results.push(await profileOne(setup, runtime, mode));
  }
  return results;
}
