/**
 * CPU time and resident memory of a process and all its descendants, read from /proc.
 *
 * A contender is measured as a tree because nginx does its work in a worker forked by the master,
 * and a runtime could do the same; every thread is covered because /proc/<pid>/stat already sums
 * the threads of a process, including threads that have exited.
 *
 * @module
 */

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let clockTicksPerSecond: number | undefined;

/** The kernel's USER_HZ, the unit of utime and stime (100 on every Linux we know, but asked). */
export function clockTicks(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

type StatFields = { parentPid: number; userTicks: number; systemTicks: number };

// The command name (field 2) is in parentheses and may hold spaces, so split after the last ")".
function readStat(pid: number): StatFields | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null; // the process exited between listing and reading
  }
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After the name: state(3) ppid(4) ... utime(14) stime(15); index 0 here is field 3.
  return { parentPid: Number(fields[1]), userTicks: Number(fields[11]), systemTicks: Number(fields[12]) };
}

/** The pid and every live descendant of it. */
export function processTree(rootPid: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === null) continue;
    const siblings = childrenOf.get(stat.parentPid);
    if (siblings === undefined) childrenOf.set(stat.parentPid, [Number(entry)]);
    else siblings.push(Number(entry));
  }
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    if (tree.includes(pid)) continue;
    tree.push(pid);
    pending.push(...(childrenOf.get(pid) ?? []));
  }
  return tree;
}

/** User plus system CPU time of the tree, in microseconds. */
export function treeCpuMicros(rootPid: number): number {
  return treesCpuMicros([rootPid]);
}

/** User plus system CPU time of several trees, each process counted once, in microseconds. */
export function treesCpuMicros(rootPids: readonly number[]): number {
  const members = new Set(rootPids.flatMap((rootPid) => processTree(rootPid)));
  let ticks = 0;
  for (const pid of members) {
    const stat = readStat(pid);
    if (stat !== null) ticks += stat.userTicks + stat.systemTicks;
  }
  return (ticks * 1_000_000) / clockTicks();
}

/**
 * CPU time of this process and of its children that have exited and been waited for (wrk runs
 * end that way), in microseconds.
 */
export function ownCpuMicros(): number {
  const text = readFileSync("/proc/self/stat", "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // utime(14) stime(15) cutime(16) cstime(17); index 0 here is field 3.
  const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return (ticks * 1_000_000) / clockTicks();
}

/** Sum of VmRSS over the tree, in bytes. */
export function treeRssBytes(rootPid: number): number {
  let kilobytes = 0;
  for (const pid of processTree(rootPid)) {
    try {
      const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (match !== null) kilobytes += Number(match[1]);
    } catch {
      // exited meanwhile: it holds no memory any more
    }
  }
  return kilobytes * 1024;
}

/** Where one CPU's time went since boot, in microseconds, from /proc/stat. */
export type CpuTimes = {
  /** User, nice and system time of every process that ran on this CPU. */
  processMicros: number;
  /**
   * Interrupt and softirq time. On loopback most of the TCP receive path runs as softirq on the
   * CPU of the sender and is charged to no process, so the contender's own CPU time misses the
   * kernel work its writes cause; with the contender alone on its CPU, this counter catches it.
   */
  interruptMicros: number;
  /** Time the hypervisor gave this virtual CPU to someone else. */
  stealMicros: number;
};

/** Reads the times of one CPU, or of all CPUs together. */
export function cpuTimes(cpu: number | "all"): CpuTimes {
  const prefix = cpu === "all" ? "cpu " : `cpu${cpu} `;
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((text) => text.startsWith(prefix));
  if (line === undefined) throw new Error(`No line for CPU "${cpu}" in /proc/stat`);
  // cpuN user nice system idle iowait irq softirq steal ...
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const micros = (value: number): number => (value * 1_000_000) / clockTicks();
  return {
    processMicros: micros(ticks[0]! + ticks[1]! + ticks[2]!),
    interruptMicros: micros(ticks[5]! + ticks[6]!),
    stealMicros: micros(ticks[7] ?? 0),
  };
}

/** Whether a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
