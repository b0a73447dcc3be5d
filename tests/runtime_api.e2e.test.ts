/**
 * The runtime API end to end: the real CLI with a `stats-socket` in a temporary directory, tcp
 * origins that say who answered, `proxy ctl` and raw socket clients. Draining, maintenance and
 * weights steer new connections while open ones go on; maxconn raised serves a queued one; a
 * session is shut down; paused health checks keep a dead server up until resumed; prompt mode and
 * several commands on a line; levels on a TCP address; stale and live sockets; -W.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, startOrigin, waitUntil } from "./_cli_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";

/** A tcp origin answering each chunk with "NAME:chunk", so the client knows which server it reached. */
async function namedOrigin(name: string) {
  const origin = await startOrigin((socket) => {
    socket.on("data", (chunk: Buffer) => socket.write(`${name}:${chunk.toString()}`));
  });
  return { name, ...origin };
}

/** A client connection through the proxy: `say` sends a word and resolves with the answer. */
async function client(port: number): Promise<{ say: (word: string) => Promise<string>; closed: Promise<void>; close: () => void }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    say: (word) =>
      new Promise((resolve, reject) => {
        const onClose = () => reject(new Error(`connection closed before answering "${word}"`));
        socket.once("close", onClose);
        socket.once("data", (chunk: Buffer) => {
          socket.off("close", onClose);
          resolve(chunk.toString());
        });
        socket.write(word);
      }),
    closed,
    close: () => socket.end(),
  };
}

/** Which server answers a fresh connection (then closed). */
async function whoAnswers(port: number): Promise<string> {
  const connection = await client(port);
  try {
    return (await connection.say("who")).split(":")[0]!;
  } finally {
    connection.close();
  }
}

/** Sends `text` on a raw connection to the UNIX socket and resolves with everything until the proxy closes. */
function ask(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ path, allowHalfOpen: true });
    let received = "";
    const timer = setTimeout(() => socket.destroy(new Error(`no close within 20 s; got ${JSON.stringify(received)}`)), 20_000);
    socket.on("connect", () => socket.write(text));
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("end", () => socket.end());
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

/** `proxy ctl` through the real CLI. */
async function ctl(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const process = new CliProcess(["ctl", ...args]);
  const code = await process.waitExit();
  return { code, stdout: process.stdout, stderr: process.stderr };
}

/** The server lines of `show servers state`: server name → its fields. */
async function serverStates(path: string, backend = ""): Promise<Map<string, string[]>> {
  const answer = await ask(path, `show servers state ${backend}\n`);
  const lines = answer.split("\n");
  assert.equal(lines[0], "1", answer);
  assert.match(lines[1]!, /^# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state/);
  const states = new Map<string, string[]>();
  for (const line of lines.slice(2)) if (line !== "") states.set(line.split(" ")[3]!, line.split(" "));
  return states;
}

/** Polls an asynchronous condition until it holds; fails naming `what` after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Fields of a server-state line. */
const OP_STATE = 5;
const ADMIN_STATE = 6;
const USER_WEIGHT = 7;

interface Rig {
  readonly dir: string;
  readonly socket: string;
  readonly proxy: CliProcess;
  readonly port: number;
  readonly origins: Awaited<ReturnType<typeof namedOrigin>>[];
  close(): Promise<void>;
}

/** Two named origins behind a tcp frontend, and the runtime API at `socket` (SOCKET in `global` stands for its path). */
async function rig(options: { global?: string; backend?: string; server?: string; args?: readonly string[] } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "proxy-api-"));
  const socket = join(dir, "api.sock");
  const origins = [await namedOrigin("a"), await namedOrigin("b")];
  const file = join(dir, "proxy.toml");
  writeFileSync(
    file,
    `[global]\n${(options.global ?? `stats-socket = { path = "SOCKET", level = "admin" }`).replaceAll("SOCKET", socket)}\n\n` +
      `[frontends.web]\nbind = "127.0.0.1:0"\ndefault-backend = "app"\nmode = "tcp"\n\n` +
      `[backends.app]\nmode = "tcp"\n${options.backend ?? ""}\n` +
      `servers = [\n${origins.map((origin) => `  { name = "${origin.name}", address = "${origin.address}"${options.server ?? ""} },`).join("\n")}\n]\n`,
  );
  const proxy = new CliProcess(["-f", file, ...(options.args ?? [])]);
  const close = async () => {
    await proxy.stop();
    await Promise.all(origins.map((origin) => origin.close()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const match = await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+), backend "app"/);
    await proxy.waitFor(/Runtime API listening on/);
    return { dir, socket, proxy, port: Number(match[1]), origins, close };
  } catch (error) {
    await close();
    throw error;
  }
}

test("the socket is 0600; proxy ctl shows the servers' state, answers errors with exit 1 and says when it cannot connect (exit 2)", async () => {
  const api = await rig();
  try {
    const stats = lstatSync(api.socket);
    assert.ok(stats.isSocket());
    assert.equal(stats.mode & 0o777, 0o600);
    const state = await ctl(["--socket", api.socket, "show servers state"]);
    assert.equal(state.code, 0, state.stderr);
    const lines = state.stdout.split("\n");
    assert.equal(lines[0], "1");
    assert.match(lines[2]!, /^2 app 1 a 127\.0\.0\.1 2 0 1 1 \d+ 0 0 0 0 0 0 0 - \d+ - 0 0 - - 0 0 0$/);
    assert.match(lines[3]!, /^2 app 2 b 127\.0\.0\.1 2 0 1 1 /);
    assert.equal(lines.length, 5, "no trailing empty line");
    const backends = await ctl(["--socket", api.socket, "show", "backend"]);
    assert.deepEqual([backends.code, backends.stdout], [0, "# name\napp\n"]);
    const missing = await ctl(["--socket", api.socket, "set server app/zz state drain"]);
    assert.deepEqual([missing.code, missing.stdout], [1, "No such server.\n"]);
    const unknown = await ctl(["--socket", api.socket, "frob"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /^Unknown command: 'frob'\. Enter 'help'/);
    const nowhere = join(api.dir, "none.sock");
    const unreachable = await ctl(["--socket", nowhere, "show info"]);
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, new RegExp(`Cannot connect to the runtime API at "${nowhere.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}": no such file or directory`));
    // Raw: each command's answer ends with an empty line; a change answers nothing.
    assert.equal(await ask(api.socket, "set server app/a state ready;show backend\n"), "\n# name\napp\n\n");
    // show info and show stat read the proxy's snapshots.
    const info = (await ask(api.socket, "show info\n")).split("\n");
    assert.ok(info.includes("Name: proxy") && info.includes(`Pid: ${api.proxy.pid}`), info.join("\n"));
    const csv = (await ask(api.socket, "show stat -1 4 -1\n")).trim().split("\n");
    assert.match(csv[0]!, /^# pxname,svname,qcur,/);
    assert.deepEqual(csv.slice(1).map((line) => line.split(",").slice(0, 2).join(",")), ["app,a", "app,b"]);
    assert.ok(csv[1]!.includes(api.origins[0]!.address), "addresses shown at level admin");
  } finally {
    await api.close();
  }
});

test("drain: an open session on the server goes on and finishes, new sessions go elsewhere; weight 0, maint and ready steer them too", async () => {
  const api = await rig();
  try {
    // Everything to a first.
    assert.equal(await ask(api.socket, "set server app/b state maint\n"), "\n");
    const held = await client(api.port);
    assert.equal(await held.say("one"), "a:one");
    const drained = await ctl(["--socket", api.socket, "set server app/a state drain; set server app/b state ready"]);
    assert.deepEqual([drained.code, drained.stdout], [0, "\n"]);
    for (let i = 0; i < 4; i++) assert.equal(await whoAnswers(api.port), "b");
    assert.equal(await held.say("two"), "a:two", "the drained server's session goes on");
    let states = await serverStates(api.socket, "app");
    assert.equal(states.get("a")![ADMIN_STATE], "8");
    assert.equal(states.get("b")![ADMIN_STATE], "0");
    held.close();
    await held.closed;

    // weight 0 drains b; a is ready again.
    assert.equal(await ask(api.socket, "set server app/a state ready;set server app/b weight 0\n"), "\n\n");
    for (let i = 0; i < 3; i++) assert.equal(await whoAnswers(api.port), "a");
    states = await serverStates(api.socket);
    assert.equal(states.get("b")![USER_WEIGHT], "0");
    assert.equal(await ask(api.socket, "get weight app/b\n"), "0 (initial 1)\n\n");
    assert.equal(await ask(api.socket, "set weight app/b 100%\n"), "\n");
    const both = new Set<string>();
    for (let i = 0; i < 4; i++) both.add(await whoAnswers(api.port));
    assert.deepEqual([...both].sort(), ["a", "b"]);

    // disable/enable server are maint/ready.
    assert.equal(await ask(api.socket, "disable server app/a\n"), "\n");
    for (let i = 0; i < 3; i++) assert.equal(await whoAnswers(api.port), "b");
    assert.equal((await serverStates(api.socket)).get("a")![ADMIN_STATE], "1");
    assert.equal(await ask(api.socket, "enable server app/a\n"), "\n");
    assert.equal((await serverStates(api.socket)).get("a")![ADMIN_STATE], "0");
    await api.proxy.waitFor(/Server "app\/a" is going DOWN for maintenance/);
  } finally {
    await api.close();
  }
});

test("set maxconn server: a raised limit serves the connection waiting in the queue at once", async () => {
  const api = await rig({ server: ", maxconn = 1", backend: `timeout = { queue = "20s" }` });
  try {
    assert.equal(await ask(api.socket, "set server app/b state maint\n"), "\n");
    const first = await client(api.port);
    assert.equal(await first.say("one"), "a:one");
    const second = await client(api.port);
    const answered = second.say("two");
    // The second waits for a's only slot: nothing reaches the origin until maxconn rises.
    await waitUntil(() => api.origins[0]!.connections() === 1, "the first connection");
    assert.equal(await ask(api.socket, "set maxconn server app/a 2\n"), "\n");
    assert.equal(await answered, "a:two");
    assert.equal(api.origins[0]!.connections(), 2);
    assert.equal(await ask(api.socket, "set maxconn server app/a x\n"), "maxconn string empty or preceded by garbage\n\n");
    first.close();
    second.close();
  } finally {
    await api.close();
  }
});

test("shutdown sessions server: the server's sessions are closed now, the others go on", async () => {
  const api = await rig();
  try {
    const onA = await client(api.port);
    const onB = await client(api.port);
    const [first, second] = [await onA.say("x"), await onB.say("y")];
    assert.deepEqual([first, second].map((answer) => answer[0]).sort(), ["a", "b"]);
    const [aSession, bSession] = first.startsWith("a") ? [onA, onB] : [onB, onA];
    assert.equal(await ask(api.socket, "shutdown sessions server app/a\n"), "\n");
    await aSession.closed;
    assert.match(await bSession.say("still"), /^b:still$/);
    await api.proxy.waitFor(/Server "app\/a": 1 session\(s\) shut down by the runtime API/);
    bSession.close();
  } finally {
    await api.close();
  }
});

test("disable health: a dead server stays up while checks are paused, and goes down once they resume", async () => {
  const api = await rig({ server: `, check = { interval = "100ms", rise = 1, fall = 1 }` });
  try {
    // The first check passed (status L4OK, 6) before anything else.
    await eventually(async () => (await serverStates(api.socket)).get("a")![10] === "6", "a's first check");
    assert.equal(await ask(api.socket, "disable health app/a\n"), "\n");
    await api.origins[0]!.close();
    await api.proxy.waitFor(/Health checks of server "app\/a" disabled \(it stays UP\)/);
    // b's checks connect to b's origin: three more of them, and a's checks (same interval, fall 1)
    // would have taken a down by now. It is still up, its check state "configured" only.
    const bChecks = api.origins[1]!.connections();
    await waitUntil(() => api.origins[1]!.connections() >= bChecks + 3, "three more checks of b");
    let state = (await serverStates(api.socket)).get("a")!;
    assert.deepEqual([state[OP_STATE], state[13]], ["2", "2"]);
    const checksBefore = (api.proxy.stderr.match(/Server "app\/a" is DOWN/g) ?? []).length;
    assert.equal(checksBefore, 0);
    assert.equal(await ask(api.socket, "enable health app/a\n"), "\n");
    await api.proxy.waitFor(/Server "app\/a" is DOWN/);
    state = (await serverStates(api.socket)).get("a")!;
    assert.deepEqual([state[OP_STATE], state[13]], ["0", "6"]);
    assert.equal(await ask(api.socket, "enable health app/b\n"), "\n", "b is checked too");
  } finally {
    await api.close();
  }
});

test("prompt mode: '> ' after each line, several commands with ';', quit closes", async () => {
  const api = await rig();
  try {
    const socket = net.connect({ path: api.socket });
    let received = "";
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    const until = (suffix: string) => waitUntil(() => received.endsWith(suffix), `"${suffix}" from the prompt; got ${JSON.stringify(received)}`);
    socket.write("prompt\n");
    await until("\n> ");
    socket.write("show backend;get weight app/a\n");
    await until("# name\napp\n\n1 (initial 1)\n\n> ");
    socket.write("set server app/nope state drain\n");
    await until("No such server.\n\n> ");
    socket.write("help\n");
    await until("quit                                    : disconnect\n\n> ");
    socket.write("quit\n");
    await closed;
    assert.equal(received.startsWith("\n> # name\napp\n\n1 (initial 1)\n\n> No such server.\n\n> The following commands are valid at this level:\n"), true, received);
  } finally {
    await api.close();
  }
});

test("levels: a read-only TCP address refuses changes with 'Permission denied'; the admin UNIX socket accepts them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "proxy-api-levels-"));
  const socket = join(dir, "admin.sock");
  const api = await rig({ global: `stats-socket = [ { path = "${socket}", level = "admin" }, { address = "127.0.0.1:0", level = "user" } ]` });
  try {
    const match = await api.proxy.waitFor(/Runtime API listening on TCP 127\.0\.0\.1:(\d+), level user/);
    const address = `127.0.0.1:${match[1]}`;
    const denied = await ctl(["--address", address, "set server app/a state drain"]);
    assert.deepEqual([denied.code, denied.stdout], [1, "Permission denied\n"]);
    const read = await ctl(["--address", address, "show backend"]);
    assert.deepEqual([read.code, read.stdout], [0, "# name\napp\n"]);
    const stat = await ctl(["--address", address, "show stat -1 4 -1"]);
    assert.equal(stat.code, 0);
    assert.ok(!stat.stdout.includes(api.origins[0]!.address), "no server address at level user");
    assert.equal(await ask(socket, "set server app/a state drain\n"), "\n");
    assert.equal((await serverStates(socket)).get("a")![ADMIN_STATE], "8");
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a stale socket file is replaced, a live one refused; the socket goes at a graceful stop", async () => {
  const api = await rig();
  try {
    // A second proxy on the same socket path while the first answers on it: refused, the first untouched.
    const other = join(api.dir, "other.toml");
    writeFileSync(
      other,
      `[global]\nstats-socket = "${api.socket}"\n[frontends.web]\nbind = "127.0.0.1:0"\ndefault-backend = "app"\nmode = "tcp"\n` +
        `[backends.app]\nmode = "tcp"\nservers = [{ name = "a", address = "${api.origins[0]!.address}" }]\n`,
    );
    const second = new CliProcess(["-f", other]);
    assert.equal(await second.waitExit(), 1);
    assert.match(second.stderr, /Cannot bind ".*api\.sock": address already in use \(a running process answers on it\)/);
    assert.equal(await ask(api.socket, "show backend\n"), "# name\napp\n\n");
    // Killed, the first leaves its socket file behind; the next start replaces it.
    api.proxy.sendSignal("SIGKILL");
    await api.proxy.exited;
    assert.ok(lstatSync(api.socket).isSocket());
    const next = new CliProcess(["-f", other]);
    try {
      await next.waitFor(/Runtime API listening on UNIX socket .*api\.sock \(mode 0600\), level operator/);
      assert.equal(await ask(api.socket, "show backend\n"), "# name\napp\n\n");
      next.sendSignal("SIGUSR1");
      assert.equal(await next.waitExit(), 0);
      assert.equal(existsSync(api.socket), false, "a graceful stop removes its socket");
    } finally {
      await next.stop();
    }
  } finally {
    await api.close();
  }
});

test("a graceful stop closes the runtime API with the listeners, while the open sessions finish", async () => {
  const api = await rig();
  try {
    const held = await client(api.port);
    assert.match(await held.say("x"), /^[ab]:x$/);
    api.proxy.sendSignal("SIGUSR1");
    await api.proxy.waitFor(/stopped listening, finishing 1 session\(s\)/);
    await waitUntil(() => !existsSync(api.socket), "the socket file to go");
    await assert.rejects(ask(api.socket, "show backend\n"), (error: NodeJS.ErrnoException) => error.code === "ENOENT");
    assert.match(await held.say("y"), /^[ab]:y$/, "the session goes on");
    held.close();
    assert.equal(await api.proxy.waitExit(), 0);
  } finally {
    await api.close();
  }
});

/** Why a chrooted run cannot happen here, or null: Linux, root, and FFI (a standalone Node process refuses chroot). */
function chrootSkipReason(): string | null {
  if (process.platform !== "linux") return "Linux only: chroot(2) through FFI";
  if (process.getuid?.() !== 0) return "needs root: only root (or CAP_SYS_CHROOT) may chroot";
  if (detectRuntimeName() === "node") return "Node has no FFI: a standalone Node process refuses chroot";
  return null;
}

test("chroot and user: the socket opened before both works after them; its file stays at exit and the next start replaces it", { skip: chrootSkipReason() ?? false }, async () => {
  const jail = mkdtempSync(join(tmpdir(), "proxy-api-jail-"));
  chmodSync(jail, 0o755);
  const api = await rig({ global: `chroot = "${jail}"\nuser = "nobody"\nstats-socket = { path = "SOCKET", level = "admin" }` });
  try {
    assert.equal(readlinkSync(`/proc/${api.proxy.pid}/root`), jail);
    await api.proxy.waitFor(/Running as uid 65534/);
    assert.equal(await ask(api.socket, "set server app/a state drain\n"), "\n");
    assert.equal((await serverStates(api.socket)).get("a")![ADMIN_STATE], "8");
    for (let i = 0; i < 3; i++) assert.equal(await whoAnswers(api.port), "b");
    api.proxy.sendSignal("SIGUSR1");
    assert.equal(await api.proxy.waitExit(), 0);
    assert.ok(lstatSync(api.socket).isSocket(), "a chrooted process cannot remove its socket file: it stays, as HAProxy's");
    const next = new CliProcess(["-f", join(api.dir, "proxy.toml")]);
    try {
      await next.waitFor(/Runtime API listening on UNIX socket/);
      assert.equal(await ask(api.socket, "show backend\n"), "# name\napp\n\n");
    } finally {
      await next.stop();
    }
  } finally {
    await api.close();
    rmSync(jail, { recursive: true, force: true });
  }
});

test("-W: the master answers on the socket for every worker, labelled @N (pid P); a change reaches each of them", async () => {
  const dir = mkdtempSync(join(tmpdir(), "proxy-api-w-"));
  const socket = join(dir, "api.sock");
  const workers = await rig({ args: ["-W"], global: `workers = 2\nstats-socket = { path = "${socket}", level = "admin" }` });
  try {
    const all = await ctl(["--socket", socket, "show servers state app"]);
    assert.equal(all.code, 0, all.stderr);
    const labels = [...all.stdout.matchAll(/^@(\d) \(pid (\d+)\)$/gm)].map((match) => match[1]);
    assert.deepEqual(labels, ["1", "2"]);
    assert.equal(all.stdout.split("\n").filter((line) => line === "1").length, 2, "a version line per worker");
    const drained = await ctl(["--socket", socket, "set server app/a state drain"]);
    assert.equal(drained.code, 0, drained.stdout);
    for (const worker of ["@1", "@2"]) {
      const state = await ctl(["--socket", socket, `${worker} show servers state app`]);
      assert.equal(state.code, 0);
      assert.match(state.stdout, /^1\n# be_id .*\n2 app 1 a 127\.0\.0\.1 2 8 /, `${worker}: ${state.stdout}`);
    }
    for (let i = 0; i < 4; i++) assert.equal(await whoAnswers(workers.port), "b");
    const failed = await ctl(["--socket", socket, "set server app/zz state drain"]);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /^@1 \(pid \d+\)\nNo such server\.\n@2 \(pid \d+\)\nNo such server\.\n$/);
  } finally {
    await workers.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
