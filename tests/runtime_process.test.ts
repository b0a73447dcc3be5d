/**
 * The process members of the runtime contract on the runtime running the tests: child processes
 * (spawn, spawnSelf, the jail), cores and affinity, the privilege drop, the monotonic clock and
 * the jail self-check. Anything that changes a process's identity or cores runs in a child
 * (tests/fixtures/process_child.ts), never in the test process.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess as NodeChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { currentRuntime, detectRuntimeName } from "../src/runtime/detect.ts";
import type { ChildExit } from "../src/runtime/types.ts";
import { keptExecArgv } from "../src/runtime/node.ts";
import { nodeJailReadGrants } from "../src/runtime/_node_jail.ts";

const runtime = currentRuntime();
const FIXTURE = fileURLToPath(new URL("./fixtures/process_child.ts", import.meta.url));
const LINUX = process.platform === "linux";
const ROOT_USER = typeof process.geteuid === "function" && process.geteuid() === 0;
const NOBODY = 65534;

/** Resolves with `promise`, or fails after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no outcome within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The fixture under this runtime (all permissions on Deno), optionally behind a wrapper command. */
class Fixture {
  readonly child: NodeChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<ChildExit>;

  constructor(args: readonly string[], wrapper: readonly string[] = []) {
    const runtimeArgs = detectRuntimeName() === "deno" ? ["run", "-A", FIXTURE, ...args] : [FIXTURE, ...args];
    const [command, ...commandArgs] = [...wrapper, process.execPath, ...runtimeArgs];
    this.child = spawn(command!, commandArgs, { stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout!.on("data", (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code, signal) => resolve({ code, signal })));
  }

  /** The JSON facts written so far. */
  facts(): Record<string, unknown>[] {
    return this.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
  }

  /** Waits for a fact with `key` (or an error fact); fails with the output after `ms`. */
  async fact(key: string, ms = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const found = this.facts().find((fact) => key in fact || "error" in fact);
      if (found !== undefined) {
        if ("error" in found && !(key in found)) assert.fail(`The fixture failed: ${String(found.error)}\n${this.stderr}`);
        return found[key] as Record<string, unknown>;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) break;
      await sleep(20);
    }
    return assert.fail(`No "${key}" from the fixture.\nstdout: ${this.stdout}\nstderr: ${this.stderr}`);
  }

  /** Waits for the end (SIGKILL after `ms`). */
  async end(ms = 20_000): Promise<ChildExit> {
    try {
      return await within(this.exited, ms, "fixture");
    } finally {
      this.stop();
    }
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** One line of /proc/PID/task/TID/status for every thread of `pid`, fields after the name. */
function taskStatus(pid: number, field: string): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const line = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8").split("\n").find((each) => each.startsWith(`${field}:`));
    return (line ?? "").slice(field.length + 1).trim().replace(/\s+/g, " ");
  });
}

/** CLOCK_MONOTONIC in µs from the kernel's timer list (root only on most systems). */
function kernelMonotonicMicros(): bigint | null {
  try {
    const match = readFileSync("/proc/timer_list", "utf8").match(/now at (\d+) nsecs/);
    return match === null ? null : BigInt(match[1]!) / 1000n;
  } catch {
    return null;
  }
}

test("info tells what this runtime can do", () => {
  const expected = {
    node: { jail: "node-permission-model", affinity: false },
    bun: { jail: "none", affinity: LINUX },
    // deno test -A grants FFI.
    deno: { jail: "deno-permissions", affinity: LINUX },
  }[runtime.info.name];
  assert.equal(runtime.info.jail, expected.jail);
  assert.equal(runtime.info.affinity, expected.affinity);
  assert.equal(runtime.info.identity, process.platform !== "win32");
  // The suite runs each runtime's default socket API, which shares an address on Linux everywhere.
  assert.equal(runtime.info.reusePort, LINUX);
  // Node binds through libuv on any POSIX system; Bun and Deno through libc, on Linux (deno test -A grants FFI).
  assert.equal(runtime.info.inheritableSockets, runtime.info.name === "node" ? process.platform !== "win32" : LINUX);
});

test("spawn: a command from PATH gets our environment plus the given variables, and its exit code", async () => {
  const child = runtime.spawn(
    "sh",
    ["-c", 'test "$PROXY_TEST_VALUE" = given && test -n "$PATH" && exit 7; exit 3'],
    { env: { PROXY_TEST_VALUE: "given" } },
  );
  assert.ok(child.pid > 0);
  assert.deepEqual(await within(child.exited, 10_000, "sh"), { code: 7, signal: null });
  assert.equal(child.kill("SIGTERM"), false, "kill after the exit");
});

test("spawn: kill with SIGTERM ends the child and the signal is reported", async () => {
  const child = runtime.spawn("sleep", ["30"], {});
  try {
    await sleep(50);
    assert.equal(child.kill("SIGTERM"), true);
    assert.deepEqual(await within(child.exited, 10_000, "sleep"), { code: null, signal: "SIGTERM" });
    assert.equal(child.kill("SIGKILL"), false);
  } finally {
    child.kill("SIGKILL");
  }
});

test("spawn: a command that does not exist throws an Error naming it, and nothing else happens", async () => {
  assert.throws(
    () => runtime.spawn("proxy-no-such-command", ["x"], {}),
    { message: 'Cannot start "proxy-no-such-command": command not found in PATH' },
  );
  assert.throws(() => runtime.spawn("/nonexistent/proxy-tool", [], {}), { message: 'Cannot start "/nonexistent/proxy-tool": no such file' });
  // The runtime reports the errno with an 'error' event a tick later: it must find a listener.
  await sleep(100);
});

test("spawnSelf: the CLI's version in a child of the same program", async () => {
  const fixture = new Fixture(["spawn-self", "free", "cli", "version"]);
  try {
    const parent = await fixture.fact("parent");
    assert.ok(Number(parent.pid) > 0);
    assert.deepEqual(await fixture.end(), { code: 0, signal: null });
    assert.match(fixture.stdout, /^proxy \d+\.\d+\.\d+/m);
    assert.match(fixture.stdout, new RegExp(`^runtime: ${runtime.info.name} `, "m"));
    assert.deepEqual(fixture.facts().at(-1), { parent: { exit: { code: 0, signal: null } } });
  } finally {
    fixture.stop();
  }
});

test("spawnSelf: an unjailed child reads files, gets its variables and serves", async () => {
  const dir = mkdtempSync(join(tmpdir(), "proxy-process-"));
  const secret = join(dir, "secret.txt");
  writeFileSync(secret, "secret\n");
  const fixture = new Fixture(["spawn-self", "free", "probe", secret]);
  try {
    const probe = await fixture.fact("probe");
    assert.deepEqual(
      { file: probe.file, tcp: probe.tcp, datagram: probe.datagram, value: probe.value },
      { file: "readable", tcp: "ping", datagram: "sent", value: "from-parent" },
    );
    assert.ok(Array.isArray(probe.lookup) && probe.lookup.length > 0, `lookup: ${JSON.stringify(probe.lookup)}`);
    assert.deepEqual(await fixture.end(), { code: 0, signal: null });
  } finally {
    fixture.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spawnSelf: a jailed child cannot read a file but still serves, resolves and sends", async (t) => {
  if (runtime.info.jail === "none") {
    t.skip(`${runtime.info.name} has no permission model (info.jail is "none")`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "proxy-process-"));
  const secret = join(dir, "secret.txt");
  writeFileSync(secret, "secret\n");
  const fixtures = [new Fixture(["spawn-self", "jailed", "probe", secret])];
  if (existsSync("/etc/hostname")) fixtures.push(new Fixture(["spawn-self", "jailed", "probe", "/etc/hostname"]));
  try {
    for (const fixture of fixtures) {
      const probe = await fixture.fact("probe");
      assert.deepEqual(
        { file: probe.file, tcp: probe.tcp, datagram: probe.datagram, value: probe.value, jail: probe.jail },
        { file: "denied", tcp: "ping", datagram: "sent", value: "from-parent", jail: runtime.info.jail },
      );
      assert.ok(Array.isArray(probe.lookup) && probe.lookup.length > 0, `lookup: ${JSON.stringify(probe.lookup)}`);
      // A Deno worker that keeps its user gets no --allow-sys at all.
      assert.equal(probe.userId, runtime.info.jail === "deno-permissions" ? "denied" : process.geteuid!());
      assert.deepEqual(await fixture.end(), { code: 0, signal: null });
    }
  } finally {
    for (const fixture of fixtures) fixture.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spawnSelf: the CLI runs jailed under Node's permission model (its own code is readable)", async (t) => {
  if (runtime.info.jail !== "node-permission-model") {
    t.skip(`only Node jails the whole CLI: citty and consola read the environment at import, which a jailed Deno child may not`);
    return;
  }
  const fixture = new Fixture(["spawn-self", "jailed", "cli", "version"]);
  try {
    assert.deepEqual(await fixture.end(), { code: 0, signal: null });
    assert.match(fixture.stdout, /^proxy \d+\.\d+\.\d+/m, fixture.stderr);
  } finally {
    fixture.stop();
  }
});

test("spawnSelf passes sockets as they are: the child has each at the descriptor `inherited` names, non-blocking, and ours stay non-blocking and close-on-exec", async (t) => {
  if (!runtime.info.inheritableSockets) {
    t.skip(`${runtime.info.name} cannot bind a socket for a child here`);
    return;
  }
  const fixture = new Fixture(["pass-sockets"]);
  try {
    const passed = await fixture.fact("passed") as {
      inherited: number[];
      sockets: { fd: number; socket: string; flags: string }[];
    };
    const child = (await fixture.fact("fds") as unknown) as { fd: number; socket: string; flags: string }[];
    assert.equal(passed.inherited.length, 2);
    // O_NONBLOCK is a flag of the open socket, shared by every process that holds it: a runtime
    // that clears it for a child blocks the parent's and the siblings' accept() too.
    const O_NONBLOCK = 0o4000;
    const O_CLOEXEC = 0o2000000;
    passed.sockets.forEach((ours, index) => {
      assert.match(ours.socket, /^socket:\[\d+\]$/);
      const theirs = child.find((entry) => entry.fd === passed.inherited[index]);
      assert.ok(theirs !== undefined, `no descriptor ${passed.inherited[index]} in the child: ${JSON.stringify(child)}`);
      assert.equal(theirs.socket, ours.socket, "the same open socket");
      assert.ok((parseInt(theirs.flags, 8) & O_NONBLOCK) !== 0, `the child's copy is blocking: ${theirs.flags}`);
      assert.ok((parseInt(ours.flags, 8) & O_NONBLOCK) !== 0, `ours became blocking: ${ours.flags}`);
      assert.ok((parseInt(ours.flags, 8) & O_CLOEXEC) !== 0, `ours lost close-on-exec: ${ours.flags}`);
    });
    assert.deepEqual(await fixture.end(), { code: 0, signal: null });
  } finally {
    fixture.stop();
  }
});

test("Node's spawnSelf keeps the flags that shape the code, and preloads only outside the jail", () => {
  const execArgv = [
    "--max-old-space-size=200",
    "--test-reporter",
    "spec",
    "--import",
    "./tracer.js",
    "--inspect-port=127.0.0.1:9229",
    "--conditions",
    "production",
    "--experimental-addon-modules",
  ];
  assert.deepEqual(keptExecArgv(execArgv, false), ["--max-old-space-size=200", "--import", "./tracer.js", "--conditions", "production"]);
  assert.deepEqual(keptExecArgv(execArgv, true), ["--max-old-space-size=200", "--conditions", "production"]);
});

test("Node's jail grants reading the program's code and its packages, nothing above them", () => {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const grants = nodeJailReadGrants(FIXTURE);
  for (const expected of ["src/", "tests/fixtures/", "package.json", "node_modules/citty/", "node_modules/consola/", "node_modules/smol-toml/"]) {
    assert.ok(grants.includes(join(root, expected)), `${expected} in ${grants.join(" ")}`);
  }
  assert.ok(!grants.some((grant) => root.startsWith(grant)), `nothing at or above ${root}: ${grants.join(" ")}`);
  assert.ok(!grants.some((grant) => grant.startsWith(join(root, "node_modules", "deno"))), "dev dependencies are not granted");
});

test("cpuCount: the cores of our affinity mask", async (t) => {
  const count = runtime.cpuCount();
  assert.ok(Number.isInteger(count) && count >= 1);
  if (!LINUX || !existsSync("/usr/bin/taskset")) {
    t.skip("taskset and /proc are Linux tools");
    return;
  }
  const allowed = readFileSync("/proc/self/status", "utf8").match(/Cpus_allowed_list:\s*(\S+)/)![1]!;
  const listed = allowed.split(",").reduce((sum, range) => {
    const [from, to] = range.split("-").map(Number);
    return sum + (to === undefined ? 1 : to - from! + 1);
  }, 0);
  assert.equal(count, listed);
  const fixture = new Fixture(["cpus"], ["taskset", "-c", allowed.split(/[-,]/)[0]!]);
  try {
    assert.equal(await fixture.fact("cpus"), 1);
    assert.deepEqual(await fixture.end(), { code: 0, signal: null });
  } finally {
    fixture.stop();
  }
});

test("setAffinity: every thread of a process is pinned, or the reason it cannot be", async (t) => {
  const cores = [runtime.cpuCount() - 1];
  if (!runtime.info.affinity) {
    assert.throws(() => runtime.setAffinity(process.pid, cores), /Node has no FFI.*Bun or Deno, or start it under taskset/);
    return;
  }
  if (!LINUX) {
    t.skip("affinity is Linux only");
    return;
  }
  const sleeper = runtime.spawn("sleep", ["30"], {});
  // A process of this runtime: a dozen threads of its own (JIT, GC, I/O pool).
  const busy = new Fixture(["idle"]);
  try {
    const idle = await busy.fact("idle");
    const pid = Number(idle.pid);
    assert.ok(taskStatus(pid, "Cpus_allowed_list").length > 1, "the fixture has several threads");
    for (const target of [sleeper.pid, pid]) {
      runtime.setAffinity(target, cores);
      const lists = taskStatus(target, "Cpus_allowed_list");
      assert.deepEqual(lists, lists.map(() => String(cores[0])), `process ${target}`);
    }
    if (runtime.cpuCount() > 1) {
      runtime.setAffinity(pid, [0, 1]);
      assert.deepEqual(new Set(taskStatus(pid, "Cpus_allowed_list")), new Set(["0-1"]));
    }
    assert.throws(() => runtime.setAffinity(pid, [1023]), /sched_setaffinity failed for thread/);
    assert.throws(() => runtime.setAffinity(pid, [1024]), /Cannot pin process \d+ to core "1024"/);
    assert.throws(() => runtime.setAffinity(pid, []), /no cores given/);
    assert.throws(() => runtime.setAffinity(2 ** 22 + 1, cores), /Cannot pin process 4194305/);
  } finally {
    sleeper.kill("SIGKILL");
    busy.stop();
  }
});

/** Starts `args` with supplementary groups 0 and 4, waits for its drop, checks every thread. */
async function checkDrop(args: readonly string[], groups: string): Promise<void> {
  const fixture = new Fixture(args, ["setpriv", "--groups", "0,4", "--"]);
  let pid = 0;
  try {
    const identity = await fixture.fact("identity");
    assert.equal(identity.userId, NOBODY);
    pid = Number(identity.pid);
    const ids = `${NOBODY} ${NOBODY} ${NOBODY} ${NOBODY}`;
    const uids = taskStatus(pid, "Uid");
    assert.ok(uids.length > 1, "several threads");
    assert.deepEqual(uids, uids.map(() => ids));
    assert.deepEqual(taskStatus(pid, "Gid"), uids.map(() => ids));
    assert.deepEqual(taskStatus(pid, "Groups"), uids.map(() => groups));
  } finally {
    // With spawn-self, the dropped process is the fixture's child, which outlives a killed parent.
    if (pid > 0) process.kill(pid, "SIGKILL");
    fixture.stop();
  }
}

test("setIdentity: a child drops to nobody on every thread, supplementary groups included", async (t) => {
  if (!LINUX || !ROOT_USER || !existsSync("/usr/bin/setpriv")) {
    t.skip("needs root, Linux and setpriv");
    return;
  }
  await checkDrop(["identity", String(NOBODY), String(NOBODY)], String(NOBODY));
});

test("setIdentity: a jailed worker drops too", async (t) => {
  if (!LINUX || !ROOT_USER || !existsSync("/usr/bin/setpriv")) {
    t.skip("needs root, Linux and setpriv");
    return;
  }
  // Deno's jail has no FFI for setgroups: spawnSelf clears the groups of root's children instead.
  await checkDrop(["spawn-self", "jailed", "identity", String(NOBODY), String(NOBODY)], runtime.info.name === "deno" ? "" : String(NOBODY));
});

test("setIdentity on Deno without FFI refuses to leave supplementary groups behind", async (t) => {
  if (runtime.info.name !== "deno" || !LINUX || !ROOT_USER || !existsSync("/usr/bin/setpriv")) {
    t.skip("Deno only (Node and Bun have process.setgroups); needs root, Linux and setpriv");
    return;
  }
  const child = spawn(
    "setpriv",
    ["--groups", "0,4", "--", process.execPath, "run", "--no-prompt", "--allow-sys", "--allow-env", FIXTURE, "identity", "65534", "65534"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  try {
    const exit = await within(new Promise<number | null>((resolve) => child.on("exit", resolve)), 20_000, "deno");
    assert.equal(exit, 1);
    assert.match(stdout, /Deno has no setgroups and without --allow-ffi the supplementary groups 0,4 would stay/);
  } finally {
    child.kill("SIGKILL");
  }
});

test("monotonicMicros: CLOCK_MONOTONIC in microseconds", async (t) => {
  const first = runtime.monotonicMicros();
  await sleep(20);
  const second = runtime.monotonicMicros();
  assert.equal(typeof first, "bigint");
  assert.ok(second - first >= 19_000n && second - first < 2_000_000n, `${first} then ${second}`);
  const before = kernelMonotonicMicros();
  if (before === null) {
    t.skip("/proc/timer_list is not readable here: the kernel's CLOCK_MONOTONIC cannot be compared");
    return;
  }
  const ours = runtime.monotonicMicros();
  const after = kernelMonotonicMicros()!;
  assert.ok(before <= ours && ours <= after, `kernel ${before}..${after}, ours ${ours}`);
});

test("fileAccess: readable, and failed for a file that is not there", async () => {
  assert.equal(await runtime.fileAccess(FIXTURE), "readable");
  assert.equal(await runtime.fileAccess(join(tmpdir(), "proxy-no-such-file", "x")), "failed");
});
