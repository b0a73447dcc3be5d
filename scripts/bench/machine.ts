/**
 * The machine and tool versions a run was measured on, for the report: figures from different
 * machines are not comparable, and the reader has to know which is which.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, release } from "node:os";
import { join } from "node:path";

/** Where the figures were measured. */
export type MachineInfo = {
  cpuModel: string;
  cpus: number;
  memoryTotal: string;
  kernel: string;
  versions: Record<string, string>;
};

function firstLineOf(command: string, args: readonly string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  if (result.error !== undefined) return "not installed";
  const text = `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
  return text.split("\n").map((line) => line.trim()).find((line) => line !== "") ?? "unknown";
}

/** Reads /proc/cpuinfo, /proc/meminfo and asks each tool for its version. */
export function describeMachine(projectRoot: string): MachineInfo {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const meminfo = readFileSync("/proc/meminfo", "utf8");
  const bin = (name: string): string => join(projectRoot, "node_modules", ".bin", name);
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    cpus: availableParallelism(),
    memoryTotal: /^MemTotal:\s+(.+)$/m.exec(meminfo)?.[1]?.trim() ?? "unknown",
    kernel: `Linux ${release()}`,
    versions: {
      node: firstLineOf(bin("node"), ["--version"]),
      bun: firstLineOf(bin("bun"), ["--version"]),
      deno: firstLineOf(bin("deno"), ["--version"]),
      haproxy: firstLineOf("haproxy", ["-v"]),
      nginx: firstLineOf("nginx", ["-v"]),
      wrk: firstLineOf("wrk", ["-v"]),
    },
  };
}
