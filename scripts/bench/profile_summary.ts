/**
 * Reads a CPU profile in the Chrome DevTools format (`.cpuprofile`: what `node --cpu-prof`,
 * `bun --cpu-prof` and the inspector's Profiler domain write) and says where the time went: self
 * time per layer (ours, dependencies, the runtime's JavaScript, the runtime's native code, GC), per
 * file and per function, and inclusive time per function.
 *
 * Samples are counted, not weighted by their time deltas: V8 samples at a fixed interval and marks
 * the event loop's waits "(idle)", but Bun's profiler only samples while JavaScript runs, and the
 * delta of its first sample after a wait spans the whole wait. Only the samples inside the wrk run
 * are counted when its window is given (the profile also holds start-up and the stop).
 *
 * @module
 */

/** One node of the profile's call tree. */
export type CpuProfileNode = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
};

/** A `.cpuprofile` file. */
export type CpuProfile = {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
};

/**
 * The measured run's start and end on both clocks a profiler may stamp samples with, microseconds:
 * V8 (Node, and Deno's inspector) uses CLOCK_MONOTONIC, Bun the wall clock.
 */
export type ProfileWindow = {
  monotonicMicros: { start: number; end: number };
  wallMicros: { start: number; end: number };
};

/** The modules of a bundle by line, from the bundler's `// src/x.ts` comments (a bundle with whitespace kept). */
export type BundleModules = { path: string; modules: { line: number; module: string }[] };

/** A share of the busy samples under a name. */
export type Share = { name: string; samples: number; share: number };

/** Where one profile's busy time went. */
export type ProfileSummary = {
  samplesInProfile: number;
  /** Samples counted: inside the window, or all of them. */
  samplesCounted: number;
  /** Which clock the window was matched on; "none" when no window was given. */
  clock: "monotonic" | "wall" | "none";
  /** Whether the profiler marks its idle time at all: Bun's samples only while JavaScript runs. */
  marksIdle: boolean;
  idleSamples: number;
  busySamples: number;
  byLayer: Share[];
  byFile: Share[];
  selfByFunction: Share[];
  inclusiveByFunction: Share[];
};

/** Time stamps above this (µs) are the wall clock: CLOCK_MONOTONIC would mean three years of uptime. */
const WALL_CLOCK_THRESHOLD_MICROS = 1e14;

const IDLE = "(idle)";
const GARBAGE_COLLECTOR = "(garbage collector)";

/** The layers self time is split into, in the order printed. */
export const LAYERS = {
  ours: "ours (src/)",
  dependencies: "dependencies (node_modules/)",
  runtimeScript: "runtime's JavaScript (node:, internal:, ext:)",
  runtimeNative: "runtime's native code (no file: built-ins such as writeBuffer)",
  program: "(program): native code with no JavaScript on the stack (event loop, syscalls)",
  garbageCollector: "(garbage collector)",
  other: "other files",
} as const;

/** Finds the module comments a bundler leaves in a bundle whose whitespace was kept. */
export function bundleModules(path: string, source: string): BundleModules {
  const modules: { line: number; module: string }[] = [];
  source.split("\n").forEach((text, line) => {
    const match = /^\/\/ ((?:src|node_modules)\/\S+\.[cm]?[jt]sx?)$/.exec(text);
    if (match !== null) modules.push({ line, module: match[1]! });
  });
  return { path, modules };
}

/** A URL or path as a path: "file:///a/b" -> "/a/b". */
function pathOf(url: string): string {
  return url.startsWith("file://") ? decodeURIComponent(url.slice("file://".length)) : url;
}

/** Where a frame's code lives: a project-relative path, a runtime module, or a name in brackets. */
function fileOf(
  frame: CpuProfileNode["callFrame"],
  projectRoot: string,
  bundle: BundleModules | null,
): string {
  if (frame.url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  const path = pathOf(frame.url);
  if (bundle !== null && path === bundle.path) {
    let module = "(bundle prelude)";
    for (const entry of bundle.modules) {
      if (entry.line > frame.lineNumber) break;
      module = entry.module;
    }
    return module;
  }
  const root = projectRoot.endsWith("/") ? projectRoot : `${projectRoot}/`;
  return path.startsWith(root) ? path.slice(root.length) : path;
}

function layerOf(file: string): string {
  if (file.startsWith("src/")) return LAYERS.ours;
  if (file.startsWith("node_modules/") || file.includes("/node_modules/")) return LAYERS.dependencies;
  if (/^(node|internal|ext|bun):/.test(file)) return LAYERS.runtimeScript;
  if (file === "(native)") return LAYERS.runtimeNative;
  if (file === "(program)") return LAYERS.program;
  if (file === GARBAGE_COLLECTOR) return LAYERS.garbageCollector;
  return LAYERS.other;
}

function functionLabel(
  node: CpuProfileNode,
  file: string,
  bundle: BundleModules | null,
  lineNumbers: boolean,
): string {
  const frame = node.callFrame;
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (file.startsWith("(")) return name;
  // In a bundle the line is the bundle's, not the source's: the module names the place.
  const inBundle = bundle !== null && pathOf(frame.url) === bundle.path;
  return !lineNumbers || inBundle || frame.lineNumber < 0
    ? `${name} ${file}`
    : `${name} ${file}:${frame.lineNumber + 1}`;
}

function ranked(counts: Map<string, number>, busy: number): Share[] {
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([name, samples]) => ({
    name,
    samples,
    share: busy === 0 ? 0 : samples / busy,
  }));
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * Summarises a profile; `window` keeps the samples of the measured run only. `lineNumbers: false`
 * leaves lines out of the function names, for a runtime whose profile numbers the lines of the
 * JavaScript it made of a TypeScript file rather than the file's own (Deno drops the comments).
 */
export function summarizeProfile(
  profile: CpuProfile,
  options: {
    projectRoot: string;
    window?: ProfileWindow | null;
    bundle?: BundleModules | null;
    lineNumbers?: boolean;
  },
): ProfileSummary {
  const bundle = options.bundle ?? null;
  const lineNumbers = options.lineNumbers ?? true;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const window = options.window ?? null;
  const clock = window === null
    ? "none"
    : profile.startTime > WALL_CLOCK_THRESHOLD_MICROS
    ? "wall"
    : "monotonic";
  const range = window === null ? null : clock === "wall" ? window.wallMicros : window.monotonicMicros;

  const fileById = new Map<number, string>();
  const file = (node: CpuProfileNode): string => {
    let found = fileById.get(node.id);
    if (found === undefined) {
      found = fileOf(node.callFrame, options.projectRoot, bundle);
      fileById.set(node.id, found);
    }
    return found;
  };
  const byLayer = new Map<string, number>();
  const byFile = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusiveByFunction = new Map<string, number>();
  let counted = 0;
  let idle = 0;
  let stamp = profile.startTime;
  for (let index = 0; index < profile.samples.length; index++) {
    stamp += profile.timeDeltas[index] ?? 0;
    if (range !== null && (stamp < range.start || stamp > range.end)) continue;
    const node = byId.get(profile.samples[index]!);
    if (node === undefined) continue;
    counted++;
    if (node.callFrame.functionName === IDLE) {
      idle++;
      continue;
    }
    const leafFile = file(node);
    bump(byLayer, layerOf(leafFile));
    bump(byFile, leafFile);
    bump(selfByFunction, functionLabel(node, leafFile, bundle, lineNumbers));
    // Inclusive: each function once per sample, however often it recurs on the stack.
    const seen = new Set<string>();
    for (
      let at: CpuProfileNode | undefined = node;
      at !== undefined;
      at = byId.get(parentOf.get(at.id) ?? -1)
    ) {
      if (at.callFrame.functionName === "(root)") continue;
      const label = functionLabel(at, file(at), bundle, lineNumbers);
      if (seen.has(label)) continue;
      seen.add(label);
      bump(inclusiveByFunction, label);
    }
  }
  const busy = counted - idle;
  return {
    samplesInProfile: profile.samples.length,
    samplesCounted: counted,
    clock,
    marksIdle: profile.nodes.some((node) => node.callFrame.functionName === IDLE),
    idleSamples: idle,
    busySamples: busy,
    byLayer: ranked(byLayer, busy),
    byFile: ranked(byFile, busy),
    selfByFunction: ranked(selfByFunction, busy),
    inclusiveByFunction: ranked(inclusiveByFunction, busy),
  };
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`.padStart(6);
}

/** How many lines of each list the text shows. */
export type SummaryLengths = { files: number; functions: number; inclusive: number };

const DEFAULT_LENGTHS: SummaryLengths = { files: 15, functions: 25, inclusive: 15 };

/** The summary as text for summary.txt, under a title line. */
export function formatProfileSummary(
  title: string,
  summary: ProfileSummary,
  lengths: SummaryLengths = DEFAULT_LENGTHS,
): string {
  const window = summary.clock === "none"
    ? `${summary.samplesCounted.toLocaleString("en-US")} samples`
    : `${summary.samplesCounted.toLocaleString("en-US")} samples in the wrk run (of ${
      summary.samplesInProfile.toLocaleString("en-US")
    } in the profile; ${summary.clock} clock)`;
  const busy = summary.samplesCounted === 0
    ? "no samples"
    : summary.marksIdle
    ? `${percent(summary.busySamples / summary.samplesCounted).trim()} busy`
    : "idle time not sampled";
  const list = (heading: string, shares: readonly Share[], count: number): string[] => [
    `  ${heading}:`,
    ...shares.slice(0, count).map((entry) => `    ${percent(entry.share)}  ${entry.name}`),
  ];
  return [
    `${title}: ${window}, ${busy}; shares of the busy samples`,
    ...list("self time by layer", summary.byLayer, summary.byLayer.length),
    ...list(`self time by file, top ${lengths.files}`, summary.byFile, lengths.files),
    ...list(`self time by function, top ${lengths.functions}`, summary.selfByFunction, lengths.functions),
    ...list(
      `inclusive time by function, top ${lengths.inclusive}`,
      summary.inclusiveByFunction,
      lengths.inclusive,
    ),
  ].join("\n");
}
