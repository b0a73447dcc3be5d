/**
 * The benchmark's `--profile DIR`: the option, the profile summary on synthetic profiles (the wrk
 * window on either clock, idle samples, layers, files, functions, recursion, a bundle's modules),
 * the strace table and the table of system calls per request, and the inspector profiler against a
 * real Deno process (how Deno is profiled: it has no --cpu-prof).
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectInspectorProfiler, inspectorUrlFrom } from "../scripts/bench/inspector_profiler.ts";
import { parseBenchOptions } from "../scripts/bench/options.ts";
import type { CpuProfile, CpuProfileNode, ProfileWindow } from "../scripts/bench/profile_summary.ts";
import {
  bundleModules,
  formatProfileSummary,
  LAYERS,
  summarizeProfile,
} from "../scripts/bench/profile_summary.ts";
import { parseStraceSummary, syscallTable } from "../scripts/bench/syscall_counts.ts";
import { ROOT } from "./_cli_helpers.ts";

const PROJECT = "/project";

function frame(
  id: number,
  functionName: string,
  url: string,
  line: number,
  children: number[] = [],
): CpuProfileNode {
  return { id, callFrame: { functionName, url, lineNumber: line, columnNumber: 0 }, children };
}

/**
 * root -> onData (session.ts) -> write (node:net) -> writeBuffer (native);
 * onData -> feed (head_parser.ts) -> feed again (recursion); root -> (idle), (program), (garbage collector).
 */
const NODES: CpuProfileNode[] = [
  frame(1, "(root)", "", -1, [2, 6, 7, 8]),
  frame(2, "onData", `file://${PROJECT}/src/http/session.ts`, 10, [3, 4]),
  frame(3, "write", "node:net", 100, [5]),
  frame(4, "feed", `file://${PROJECT}/src/http/head_parser.ts`, 4, [9]),
  frame(5, "writeBuffer", "", -1),
  frame(6, "(idle)", "", -1),
  frame(7, "(program)", "", -1),
  frame(8, "(garbage collector)", "", -1),
  frame(9, "feed", `file://${PROJECT}/src/http/head_parser.ts`, 4),
];

/** Samples one every 1,000 µs from `start`: 2 before the wrk window, 10 inside, 2 after. */
function profileFrom(start: number): CpuProfile {
  // Inside: writeBuffer x4, feed (recursive) x2, feed x1, (idle) x1, (program) x1, (garbage collector) x1.
  const samples = [5, 5, ...[5, 5, 5, 5, 9, 9, 4, 6, 7, 8], 9, 9];
  return {
    nodes: NODES,
    startTime: start,
    endTime: start + samples.length * 1_000,
    samples,
    timeDeltas: samples.map(() => 1_000),
  };
}

/** The window of profileFrom(start) on one clock, and a window elsewhere on the other. */
function windowOf(clock: "monotonic" | "wall", start: number): ProfileWindow {
  // Sample n (from 0) is stamped start + (n + 1) * 1000: this holds samples 2 to 11.
  const range = { start: start + 2_500, end: start + 12_500 };
  const elsewhere = { start: 0, end: 1 };
  return clock === "monotonic"
    ? { monotonicMicros: range, wallMicros: elsewhere }
    : { monotonicMicros: elsewhere, wallMicros: range };
}

const MONOTONIC_START = 31_000_000_000;

describe("profile summary", () => {
  test("counts the samples of the wrk window on the monotonic clock; idle is left out of the shares", () => {
    const profile = profileFrom(MONOTONIC_START);
    const summary = summarizeProfile(profile, {
      projectRoot: PROJECT,
      window: windowOf("monotonic", MONOTONIC_START),
    });
    assert.equal(summary.clock, "monotonic");
    assert.equal(summary.samplesInProfile, 14);
    assert.equal(summary.samplesCounted, 10);
    assert.equal(summary.idleSamples, 1);
    assert.equal(summary.busySamples, 9);
    const layer = (name: string) => summary.byLayer.find((entry) => entry.name === name)?.samples;
    assert.equal(layer(LAYERS.runtimeNative), 4);
    assert.equal(layer(LAYERS.ours), 3);
    assert.equal(layer(LAYERS.program), 1);
    assert.equal(layer(LAYERS.garbageCollector), 1);
    assert.equal(summary.byLayer[0]!.share, 4 / 9);
    assert.deepEqual(summary.byFile.map((entry) => [entry.name, entry.samples]), [
      ["(native)", 4],
      ["src/http/head_parser.ts", 3],
      ["(garbage collector)", 1],
      ["(program)", 1],
    ]);
    assert.deepEqual(summary.selfByFunction[0], { name: "writeBuffer", samples: 4, share: 4 / 9 });
    assert.equal(summary.selfByFunction[1]!.name, "feed src/http/head_parser.ts:5");
  });

  test("without line numbers (Deno's are of its transpiled JavaScript) a function is named by its file", () => {
    const summary = summarizeProfile(profileFrom(MONOTONIC_START), {
      projectRoot: PROJECT,
      lineNumbers: false,
    });
    assert.ok(summary.selfByFunction.some((entry) => entry.name === "feed src/http/head_parser.ts"));
    assert.ok(summary.inclusiveByFunction.some((entry) => entry.name === "write node:net"));
    assert.ok(!summary.selfByFunction.some((entry) => /:\d+$/.test(entry.name)));
  });

  test("inclusive time counts a function once per sample, however deep it recurs", () => {
    const profile = profileFrom(MONOTONIC_START);
    const summary = summarizeProfile(profile, {
      projectRoot: PROJECT,
      window: windowOf("monotonic", MONOTONIC_START),
    });
    const inclusive = (name: string) =>
      summary.inclusiveByFunction.find((entry) => entry.name === name)?.samples;
    assert.equal(inclusive("onData src/http/session.ts:11"), 7);
    assert.equal(inclusive("feed src/http/head_parser.ts:5"), 3, "the two recursive samples count once each");
    assert.equal(inclusive("write node:net:101"), 4);
    assert.equal(inclusive("(root)"), undefined);
  });

  test("a profile stamped with the wall clock (Bun) is cut on the wall clock; without a window all count", () => {
    const wallStart = 1_796_683_879_233_069;
    const profile = profileFrom(wallStart);
    const summary = summarizeProfile(profile, { projectRoot: PROJECT, window: windowOf("wall", wallStart) });
    // The same window on the wrong clock would hold nothing.
    const misread = summarizeProfile(profile, {
      projectRoot: PROJECT,
      window: windowOf("monotonic", wallStart),
    });
    assert.equal(misread.samplesCounted, 0);
    assert.equal(summary.clock, "wall");
    assert.equal(summary.samplesCounted, 10);
    const whole = summarizeProfile(profile, { projectRoot: PROJECT });
    assert.equal(whole.clock, "none");
    assert.equal(whole.samplesCounted, 14);
  });

  test("a bundle's functions are attributed to the modules its bundler named, without bundle lines", () => {
    const path = "/tmp/run/proxy-profiled.cjs";
    const source = [
      "var __toESM = () => {};",
      "// src/http/session.ts",
      "function onData() {}",
      "// node_modules/consola/dist/core.mjs",
      "function log() {}",
      "//  not a module: two spaces",
    ].join("\n");
    const modules = bundleModules(path, source);
    assert.deepEqual(modules.modules, [
      { line: 1, module: "src/http/session.ts" },
      { line: 3, module: "node_modules/consola/dist/core.mjs" },
    ]);
    const profile: CpuProfile = {
      nodes: [
        frame(1, "(root)", "", -1, [2, 3, 4]),
        frame(2, "__toESM", `file://${path}`, 0),
        frame(3, "onData", `file://${path}`, 2),
        frame(4, "log", path, 4),
      ],
      startTime: 1,
      endTime: 4,
      samples: [2, 3, 3, 4],
      timeDeltas: [1, 1, 1, 1],
    };
    const summary = summarizeProfile(profile, { projectRoot: PROJECT, bundle: modules });
    assert.deepEqual(summary.byFile.map((entry) => [entry.name, entry.samples]), [
      ["src/http/session.ts", 2],
      ["(bundle prelude)", 1],
      ["node_modules/consola/dist/core.mjs", 1],
    ]);
    assert.equal(summary.selfByFunction[0]!.name, "onData src/http/session.ts");
    assert.equal(summary.marksIdle, false);
    assert.match(formatProfileSummary("bundle", summary), /^bundle: 4 samples, idle time not sampled; /);
    const layer = (name: string) => summary.byLayer.find((entry) => entry.name === name)?.samples;
    assert.equal(layer(LAYERS.ours), 2);
    assert.equal(layer(LAYERS.dependencies), 1);
    assert.equal(layer(LAYERS.other), 1);
  });

  test("the text names the window, the busy share and each list", () => {
    const text = formatProfileSummary(
      "ours/node http",
      summarizeProfile(profileFrom(MONOTONIC_START), {
        projectRoot: PROJECT,
        window: windowOf("monotonic", MONOTONIC_START),
      }),
      { files: 2, functions: 2, inclusive: 1 },
    );
    const lines = text.split("\n");
    assert.equal(
      lines[0],
      "ours/node http: 10 samples in the wrk run (of 14 in the profile; monotonic clock), 90.0% busy; " +
        "shares of the busy samples",
    );
    assert.ok(lines.includes("     44.4%  writeBuffer"), text);
    assert.ok(lines.includes("  self time by file, top 2:"), text);
    // Every layer with samples (native, ours, program, GC), then 2 files, 2 functions, 1 inclusive.
    assert.equal(lines.filter((line) => line.startsWith("    ")).length, 4 + 2 + 2 + 1);
  });
});

describe("system calls per request", () => {
  // strace 6.1 -c -f, as written to -o after SIGINT.
  const table = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 89.46    4.923528       14438       341        58 futex
  7.48    0.411474          19     20911           write
  2.73    0.149988           7     20976         1 read
  0.17    0.009531          23       399           epoll_pwait
  0.01    0.000605           4       130           setsockopt
------ ----------- ----------- --------- --------- ----------------
100.00    5.503799         125     42757        59 total
`;

  test("strace's table: calls and errors per system call, the total left out", () => {
    assert.deepEqual(parseStraceSummary(table), [
      { syscall: "futex", calls: 341, errors: 58 },
      { syscall: "write", calls: 20_911, errors: 0 },
      { syscall: "read", calls: 20_976, errors: 1 },
      { syscall: "epoll_pwait", calls: 399, errors: 0 },
      { syscall: "setsockopt", calls: 130, errors: 0 },
    ]);
    assert.deepEqual(parseStraceSummary("strace: Process 12 attached\n"), []);
  });

  test("per request, one column per contender, the busiest calls first, a call one side lacks as 0", () => {
    const text = syscallTable([
      {
        contender: "ours/node",
        requests: 10_000,
        requestsPerSecond: 9_999.6,
        counts: parseStraceSummary(table),
      },
      {
        contender: "haproxy",
        requests: 20_000,
        requestsPerSecond: 20_000,
        counts: [{ syscall: "sendto", calls: 40_000, errors: 0 }, {
          syscall: "recvfrom",
          calls: 41_000,
          errors: 3,
        }],
      },
    ], 3);
    const lines = text.split("\n");
    assert.match(lines[0]!, /^\| syscall, calls per request \| ours\/node \| haproxy \|$/);
    assert.deepEqual(
      lines.slice(2).map((line) => line.split("|").map((cell) => cell.trim()).filter((cell) => cell !== "")),
      [
        ["read", "2.10", "0.00"],
        ["write", "2.09", "0.00"],
        ["recvfrom", "0.00", "2.05"],
        ["all calls", "4.28", "4.05"],
        ["requests (under strace)", "10,000", "20,000"],
        ["req/s (under strace)", "10,000", "20,000"],
      ],
    );
  });
});

describe("--profile", () => {
  test("takes a directory; none by default", () => {
    assert.equal(parseBenchOptions(["--quick", "--profile", "/tmp/p"]).profileDirectory, "/tmp/p");
    assert.equal(parseBenchOptions(["--profile=out/profiles"]).profileDirectory, "out/profiles");
    assert.equal(parseBenchOptions([]).profileDirectory, null);
    assert.throws(() => parseBenchOptions(["--profile"]), /Option "--profile" needs a value/);
  });
});

describe("inspector profiler", () => {
  const directory = mkdtempSync(join(tmpdir(), "bench-inspector-"));
  after(() => rmSync(directory, { recursive: true, force: true }));

  test("the inspector's address is read from the stderr a runtime writes; a missing one is an error", async () => {
    const path = join(directory, "stderr.txt");
    writeFileSync(path, "Debugger listening on ws://127.0.0.1:40123/ws/0e9a-11\nVisit chrome://inspect\n");
    assert.equal(await inspectorUrlFrom(path, 1_000), "ws://127.0.0.1:40123/ws/0e9a-11");
    await assert.rejects(inspectorUrlFrom(join(directory, "none.txt"), 200), /No inspector address in/);
  });

  test("profiles a busy Deno process between start and stop, in V8's .cpuprofile format", async () => {
    const script = join(directory, "busy.ts");
    writeFileSync(
      script,
      "function spin(n: number): number { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }\n" +
        "setInterval(() => spin(2_000_000), 1);\n",
    );
    const stderrPath = join(directory, "deno.err");
    const stderr = openSync(stderrPath, "w");
    const child = spawn(
      join(ROOT, "node_modules", ".bin", "deno"),
      ["run", "--inspect=127.0.0.1:0", script],
      {
        stdio: ["ignore", "ignore", stderr],
      },
    );
    closeSync(stderr);
    try {
      const profiler = await connectInspectorProfiler(await inspectorUrlFrom(stderrPath, 20_000));
      try {
        await profiler.start(1_000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        const profile = await profiler.stop();
        assert.ok(profile.samples.length > 100, `${profile.samples.length} samples in 0.5 s`);
        assert.equal(profile.samples.length, profile.timeDeltas.length);
        const summary = summarizeProfile(profile, { projectRoot: directory });
        // Most of the busy time in the script's own code, whether V8 shows spin inlined or not.
        const script = summary.byFile.find((entry) => entry.name === "busy.ts");
        assert.ok(
          summary.busySamples > 100 && script !== undefined && script.share > 0.5,
          formatProfileSummary("deno", summary),
        );
      } finally {
        profiler.close();
      }
    } finally {
      child.kill("SIGKILL");
    }
  });
});
