/**
 * Changes made through the runtime API hold across reloads, end to end on the real CLI: a server
 * put in maintenance and a weight set on a running proxy are there in the next generation, whose
 * `show servers state` says so and whose traffic avoids the server: after a standalone `-sf`
 * reload (the new process asks the old one on its stats-socket, before taking the socket over,
 * and prefers that to the server-state-file), after a -W SIGUSR2 reload (the master asks a worker
 * and hands the state to the new workers), and from a `server-state-file` written with `proxy ctl`
 * (read at a plain start, before a chroot, and by a -W master for its workers); a -W worker that
 * crashed or is silent at a reload. Tcp origins say who answered.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, deadPort, startOrigin } from "./_cli_helpers.ts";
import { MasterProcess } from "./_process_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";

/** A tcp origin answering each chunk with "NAME:chunk". */
async function namedOrigin(name: string) {
  const origin = await startOrigin((socket) => {
    socket.on("data", (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  return { name, ...origin };
}

/** Which server answers a fresh connection through the proxy (then closed). */
function whoAnswers(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => socket.destroy(new Error("no answer within 10 s")), 10_000);
    socket.on("connect", () => socket.write("who"));
    socket.once("data", (chunk: Buffer) => {
      clearTimeout(timer);
      socket.end();
      resolve(chunk.toString().split(":")[0]!);
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** `proxy ctl` through the real CLI; fails the test on an error answer. */
async function ctl(socket: string, line: string): Promise<string> {
  const process = new CliProcess(["ctl", "--socket", socket, line]);
  const code = await process.waitExit();
  assert.equal(code, 0, `proxy ctl "${line}": ${process.stdout}${process.stderr}`);
  return process.stdout;
}

/** The fields of each server line of a `show servers state` text, by server name. */
function servers(state: string): Map<string, string[]> {
  const lines = state.split("\n");
  assert.equal(lines[0], "1", state);
  const result = new Map<string, string[]>();
  for (const line of lines.slice(2)) if (line !== "") result.set(line.split(" ")[3]!, line.split(" "));
  return result;
}

const ADMIN_STATE = 6;
const USER_WEIGHT = 7;

/** Server a in maintenance, b at weight 5 of 10, c as configured: what every test expects afterwards. */
function assertCarried(state: string, what: string): void {
  const lines = servers(state);
  assert.deepEqual(
    ["a", "b", "c"].map((name) => [lines.get(name)![ADMIN_STATE], lines.get(name)![USER_WEIGHT]]),
    [["1", "10"], ["0", "5"], ["0", "10"]],
    `${what}:\n${state}`,
  );
}

interface Farm {
  readonly dir: string;
  readonly socket: string;
  readonly stateFile: string;
  readonly file: string;
  readonly port: number;
  readonly origins: Awaited<ReturnType<typeof namedOrigin>>[];
  close(): Promise<void>;
}

/** Three origins behind a tcp frontend on a fixed port, a stats-socket at level admin; `global` adds to [global]. */
async function farm(global = ""): Promise<Farm> {
  const dir = mkdtempSync(join(tmpdir(), "proxy-state-"));
  const socket = join(dir, "api.sock");
  const stateFile = join(dir, "servers.state");
  const origins = [await namedOrigin("a"), await namedOrigin("b"), await namedOrigin("c")];
  const port = await deadPort();
  const file = join(dir, "proxy.toml");
  writeFileSync(
    file,
    `[global]\nstats-socket = { path = "${socket}", level = "admin" }\n${global.replaceAll("STATE", stateFile)}\n\n` +
      `[frontends.web]\nbind = "127.0.0.1:${port}"\ndefault-backend = "app"\nmode = "tcp"\n\n` +
      `[backends.app]\nmode = "tcp"\n` +
      `servers = [\n${origins.map((origin) => `  { name = "${origin.name}", address = "${origin.address}", weight = 10 },`).join("\n")}\n]\n`,
  );
  return {
    dir,
    socket,
    stateFile,
    file,
    port,
    origins,
    async close() {
      await Promise.all(origins.map((origin) => origin.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts a standalone proxy and waits until it serves and its runtime API listens. */
async function standalone(args: readonly string[]): Promise<CliProcess> {
  const proxy = new CliProcess(args);
  try {
    await proxy.waitFor(/Frontend "web" \(tcp\) listening on /);
    await proxy.waitFor(/Runtime API listening on UNIX socket/);
    return proxy;
  } catch (error) {
    await proxy.stop();
    throw error;
  }
}

/** Every one of `count` new connections is answered by a server other than a. */
async function assertAvoidsA(port: number, count = 6): Promise<void> {
  const answered: string[] = [];
  for (let i = 0; i < count; i++) answered.push(await whoAnswers(port));
  assert.ok(!answered.includes("a"), `server a is in maintenance: ${answered.join(", ")}`);
  assert.ok(answered.includes("b") && answered.includes("c"), answered.join(", "));
}

test("-sf: the new process asks the old one on its stats-socket before taking it over: maintenance and weight carry over, before the file", async () => {
  // The file says otherwise (c in maintenance): a live old process comes first.
  const rig = await farm(`server-state-file = "STATE"`);
  let a: CliProcess | undefined;
  let b: CliProcess | undefined;
  try {
    a = await standalone(["-f", rig.file]);
    assert.match(a.stderr, /No server-state-file at ".*servers\.state": the servers start from the configuration/);
    await ctl(rig.socket, "set server app/a state maint");
    await ctl(rig.socket, "set server app/b weight 50%");
    const before = await ctl(rig.socket, "show servers state");
    assertCarried(before, "the old process");
    writeFileSync(rig.stateFile, before.replace(/^(\d+ app \d+ c \S+ \d+) 0 /m, "$1 1 "));

    b = await standalone(["-f", rig.file, "-sf", String(a.pid)]);
    await b.waitFor(/Told old process\(es\) \d+ to finish/);
    assert.equal(await a.waitExit(), 0);
    assert.match(b.stderr, /Server "app\/a": maintenance carried over from the old process's runtime API at ".*api\.sock"/);
    assert.match(b.stderr, /Server "app\/b": weight 5 \(initial 10\) carried over from the old process's runtime API/);
    assert.match(b.stderr, /Server state from the old process's runtime API at ".*api\.sock": 3 server\(s\) restored/);
    assert.doesNotMatch(b.stderr, /server-state-file/);
    assertCarried(await ctl(rig.socket, "show servers state"), "the new process");
    await assertAvoidsA(rig.port);
  } finally {
    await a?.stop();
    await b?.stop();
    await rig.close();
  }
});

test("-W: a SIGUSR2 reload hands the state a worker gives to the new generation, on each of its workers", async () => {
  const rig = await farm("workers = 2");
  const master = new MasterProcess(["-W", "-f", rig.file]);
  try {
    await master.waitFor(/2 workers ready/);
    await ctl(rig.socket, "set server app/a state maint");
    await ctl(rig.socket, "set server app/b weight 50%");
    const mark = master.stderr.length;
    master.signalMaster("SIGUSR2");
    await master.waitFor(/Reload done: 2 workers of generation 2 ready/, mark);
    const handed = master.stderr.slice(mark);
    assert.match(handed, /Server "app\/a": maintenance carried over from worker 1 \(pid \d+\) of generation 1/);
    assert.equal(handed.match(/Server state from worker 1 \(pid \d+\) of generation 1: 3 server\(s\) restored/g)?.length, 2, handed);
    const workers = [...(await ctl(rig.socket, "show servers state")).matchAll(/^@(\d) \(pid (\d+)\)$/gm)];
    assert.deepEqual(workers.map((match) => match[1]), ["1", "2"]);
    assert.deepEqual(
      workers.map((match) => Number(match[2])).sort(),
      master.readyWorkers(mark).map((worker) => worker.pid).sort(),
      "the answers are the new generation's",
    );
    for (const worker of ["@1", "@2"]) assertCarried(await ctl(rig.socket, `${worker} show servers state`), `worker ${worker}`);
    await assertAvoidsA(rig.port, 8);
  } finally {
    await master.stop();
    await rig.close();
  }
});

test("server-state-file: written with proxy ctl, read at a plain start and by a -W master for its workers; a broken line is a warning", async () => {
  const rig = await farm(`server-state-file = "STATE"`);
  let first: CliProcess | undefined;
  let second: CliProcess | undefined;
  let master: MasterProcess | undefined;
  try {
    first = await standalone(["-f", rig.file]);
    await ctl(rig.socket, "set server app/a state maint");
    await ctl(rig.socket, "set server app/b weight 50%");
    writeFileSync(rig.stateFile, `${await ctl(rig.socket, "show servers state")}garbage line\n`);
    first.sendSignal("SIGUSR1");
    assert.equal(await first.waitExit(), 0);

    second = await standalone(["-f", rig.file]);
    assert.match(second.stderr, /Server state from the server-state-file ".*servers\.state": Line 6 skipped: 2 fields/);
    assert.match(second.stderr, /Server state from the server-state-file ".*servers\.state": 3 server\(s\) restored, 1 malformed line\(s\) left out/);
    assertCarried(await ctl(rig.socket, "show servers state"), "a plain start from the file");
    await assertAvoidsA(rig.port);
    second.sendSignal("SIGUSR1");
    assert.equal(await second.waitExit(), 0);

    master = new MasterProcess(["-W", "-f", rig.file]);
    await master.waitFor(/1 worker ready/);
    assert.match(master.stderr, /Server "app\/a": maintenance carried over from the server-state-file/);
    assertCarried(await ctl(rig.socket, "@1 show servers state"), "a -W worker from the master's read of the file");
    await assertAvoidsA(rig.port);
  } finally {
    await first?.stop();
    await second?.stop();
    await master?.stop();
    await rig.close();
  }
});

test("-W: a worker that crashed restarts from the state the master saw after the last change", async () => {
  const rig = await farm();
  const master = new MasterProcess(["-W", "-f", rig.file]);
  try {
    await master.waitFor(/1 worker ready/);
    const [worker] = master.readyWorkers();
    await ctl(rig.socket, "set server app/a state maint");
    await ctl(rig.socket, "set server app/b weight 50%");
    // The master asks the worker again after each change, before it answers: this answer comes after.
    await ctl(rig.socket, "show servers state");
    const mark = master.stderr.length;
    process.kill(worker!.pid, "SIGKILL");
    await master.waitFor(/Worker 1 \(pid \d+\) ready in \d+ ms \(restarted\)/, mark);
    assert.match(master.stderr.slice(mark), /Server state from worker 1 \(pid \d+\) of generation 1: 3 server\(s\) restored/);
    assertCarried(await ctl(rig.socket, "show servers state").then((text) => text.replace(/^@1 \(pid \d+\)\n/, "")), "the restarted worker");
    await assertAvoidsA(rig.port);
  } finally {
    await master.stop();
    await rig.close();
  }
});

test("-W: a worker that does not answer at a reload is waited for a bounded time; the new generation starts from what the master saw last", async () => {
  const rig = await farm();
  const master = new MasterProcess(["-W", "-f", rig.file]);
  let stopped: number | null = null;
  try {
    await master.waitFor(/1 worker ready/);
    const [worker] = master.readyWorkers();
    await ctl(rig.socket, "set server app/a state maint");
    await ctl(rig.socket, "set server app/b weight 50%");
    await ctl(rig.socket, "show servers state");
    process.kill(worker!.pid, "SIGSTOP");
    stopped = worker!.pid;
    const mark = master.stderr.length;
    master.signalMaster("SIGUSR2");
    await master.waitFor(new RegExp(`No server state from worker 1 \\(pid ${worker!.pid}\\) of generation 1 within 3000 ms`), mark);
    await master.waitFor(/Starting generation 2 from the server state of worker 1 \(pid \d+\) of generation 1, the last the master saw/, mark);
    await master.waitFor(/Reload done: 1 worker of generation 2 ready/, mark);
    process.kill(worker!.pid, "SIGCONT");
    stopped = null;
    assertCarried(await ctl(rig.socket, "@1 show servers state"), "the new generation");
    await assertAvoidsA(rig.port);
  } finally {
    if (stopped !== null) process.kill(stopped, "SIGCONT");
    await master.stop();
    await rig.close();
  }
});

/** Why a chrooted standalone run cannot happen here, or null: Linux, root, and FFI (Node refuses chroot). */
function chrootSkipReason(): string | null {
  if (process.platform !== "linux") return "Linux only: chroot(2) through FFI";
  if (process.getuid?.() !== 0) return "needs root: only root (or CAP_SYS_CHROOT) may chroot";
  if (detectRuntimeName() === "node") return "Node has no FFI: a standalone Node process refuses chroot";
  return null;
}

test("chroot: the server-state-file is read before the chroot, then a -sf reload asks the chrooted old process", { skip: chrootSkipReason() ?? false }, async () => {
  const jail = mkdtempSync(join(tmpdir(), "proxy-state-jail-"));
  chmodSync(jail, 0o755);
  const rig = await farm(`chroot = "${jail}"\nuser = "nobody"\nserver-state-file = "STATE"`);
  let first: CliProcess | undefined;
  let second: CliProcess | undefined;
  try {
    writeFileSync(
      rig.stateFile,
      "1\n# names\n" + rig.origins.map((origin, index) =>
        `2 app ${index + 1} ${origin.name} 127.0.0.1 2 ${origin.name === "a" ? 1 : 0} ${origin.name === "b" ? 5 : 10} 10 0 0 0 0 0 0 0 0 - ${
          origin.address.split(":")[1]
        } - 0 0 - - 0 0 0`
      ).join("\n") + "\n",
    );
    first = await standalone(["-f", rig.file]);
    assert.match(first.stderr, /Server state from the server-state-file ".*servers\.state": 3 server\(s\) restored/);
    await first.waitFor(/Running as uid 65534/);
    assertCarried(await ctl(rig.socket, "show servers state"), "read before the chroot");
    await ctl(rig.socket, "set server app/c state drain");
    second = await standalone(["-f", rig.file, "-sf", String(first.pid)]);
    assert.match(second.stderr, /Server "app\/c": drain carried over from the old process's runtime API/);
    assert.equal(await first.waitExit(), 0);
    const lines = servers(await ctl(rig.socket, "show servers state"));
    assert.deepEqual(["a", "b", "c"].map((name) => lines.get(name)![ADMIN_STATE]), ["1", "0", "8"]);
  } finally {
    await first?.stop();
    await second?.stop();
    await rig.close();
    rmSync(jail, { recursive: true, force: true });
  }
});
