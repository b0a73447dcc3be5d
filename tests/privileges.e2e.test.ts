/**
 * `user`/`group` end to end: the CLI started as root binds a port below 1024, drops to the
 * configured user and group (checked in /proc for every thread), still proxies, and stops on
 * SIGUSR1; an unknown user stops the start with exit 1 and the message.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, exchange, startOrigin } from "./_cli_helpers.ts";
import { configFile } from "./_http_helpers.ts";

/** The account every Linux distribution has for unprivileged daemons. */
const NOBODY_UID = 65534;

/** Why these tests cannot run here, or null. */
function skipReason(): string | null {
  if (process.platform !== "linux") return "Linux only: the ids are read from /proc";
  if (process.getuid?.() !== 0) return "needs root: the proxy binds a port below 1024, then drops to nobody";
  if (!/^nobody:[^:]*:65534:65534:/m.test(readFileSync("/etc/passwd", "utf8"))) return "no nobody:65534:65534 in /etc/passwd";
  return null;
}

/** A group of /etc/group other than root's and nobody's, to name in `group`. */
function otherGroup(): { name: string; gid: number } | null {
  for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
    const [name, , gid] = line.split(":");
    const id = Number(gid);
    if (name && /^[a-z_][a-z0-9_-]*$/.test(name) && Number.isInteger(id) && id > 0 && id < NOBODY_UID) return { name, gid: id };
  }
  return null;
}

/** A user of /etc/passwd other than root and nobody, to switch to on a reload. */
function otherUser(): { name: string; uid: number } | null {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , uid] = line.split(":");
    const id = Number(uid);
    if (name && /^[a-z_][a-z0-9_-]*$/.test(name) && Number.isInteger(id) && id > 0 && id < NOBODY_UID) return { name, uid: id };
  }
  return null;
}

/** A free loopback port below 1024 (only root may bind it), tried in a random order. */
async function freePrivilegedPort(): Promise<number> {
  const first = 600 + Math.floor(Math.random() * 400);
  for (let offset = 0; offset < 400; offset++) {
    const port = 600 + ((first - 600 + offset) % 400);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once("error", () => resolve(false));
      server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("No free loopback port from 600 to 999");
}

/** The ids of every thread of `pid`: Uid/Gid lines (real, effective, saved, fs), Groups and effective capabilities. */
function idsOfThreads(pid: number): { uid: string; gid: string; groups: string; capabilities: string }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    const field = (name: string) => (new RegExp(`^${name}:[ \\t]*(.*)$`, "m").exec(status)?.[1] ?? "").trim().split(/\s+/).join(" ");
    return { uid: field("Uid"), gid: field("Gid"), groups: field("Groups"), capabilities: field("CapEff") };
  });
}

/** A tcp-mode config on 127.0.0.1:`port` to `origin`, with `globals` in [global]. */
function tcpConfig(port: number, origin: string, globals: string): string {
  return `[global]\n${globals}\n\n[frontends.web]\nmode = "tcp"\nbind = "127.0.0.1:${port}"\ndefault-backend = "app"\n\n` +
    `[backends.app]\nmode = "tcp"\nservers = [{ name = "origin", address = "${origin}" }]\n`;
}

/**
 * Starts the proxy with `globals` as root on a port below 1024, checks the ids of its threads and
 * that it proxies, then stops it with SIGUSR1.
 */
async function runAs(globals: string, expected: { uid: number; gid: number }): Promise<CliProcess> {
  const origin = await startOrigin((socket) => socket.pipe(socket));
  const port = await freePrivilegedPort();
  const config = configFile(tcpConfig(port, origin.address, globals));
  const proxy = new CliProcess(["-f", config.path]);
  try {
    await proxy.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
    assert.match(proxy.stderr, new RegExp(`Running as uid ${expected.uid}, gid ${expected.gid} with no other group`));
    const threads = idsOfThreads(proxy.pid);
    assert.ok(threads.length >= 1);
    const uid = Array(4).fill(expected.uid).join(" ");
    const gid = Array(4).fill(expected.gid).join(" ");
    for (const { capabilities, ...ids } of threads) {
      assert.deepEqual(ids, { uid, gid, groups: `${expected.gid}` }, `threads: ${JSON.stringify(threads)}`);
      // Linux empties the capability sets when root becomes another user: no CAP_NET_BIND_SERVICE left.
      if (expected.uid !== 0) assert.equal(capabilities, "0000000000000000");
    }
    const echoed = await exchange(port, "through the proxy, as another user");
    assert.equal(echoed.toString(), "through the proxy, as another user");
    proxy.sendSignal("SIGUSR1");
    assert.equal(await proxy.waitExit(), 0, proxy.stderr);
    return proxy;
  } finally {
    await proxy.stop();
    await origin.close();
    config.remove();
  }
}

describe("privileges end to end", { skip: skipReason() ?? false }, () => {
  test("user = \"nobody\": binds below 1024 as root, then serves as nobody with no other group", async () => {
    const proxy = await runAs(`user = "nobody"`, { uid: NOBODY_UID, gid: NOBODY_UID });
    assert.doesNotMatch(proxy.stderr, /Still running as root/);
  });

  test("user and group: the group named replaces the user's primary group", async (t) => {
    const group = otherGroup();
    if (group === null) return t.skip("no group with a gid from 1 to 65533 in /etc/group");
    await runAs(`user = "nobody"\ngroup = "${group.name}"`, { uid: NOBODY_UID, gid: group.gid });
  });

  test("group alone keeps root's uid, changes the gid, and warns", async (t) => {
    const group = otherGroup();
    if (group === null) return t.skip("no group with a gid from 1 to 65533 in /etc/group");
    const proxy = await runAs(`group = ${group.gid}`, { uid: 0, gid: group.gid });
    assert.match(proxy.stderr, /Still running as root \(uid 0\)/);
  });

  test("an unknown user: exit 1 with the message, nothing bound", async () => {
    const port = await freePrivilegedPort();
    const config = configFile(tcpConfig(port, "127.0.0.1:9", `user = "nobodyx"`));
    const proxy = new CliProcess(["-f", config.path]);
    try {
      assert.equal(await proxy.waitExit(), 1, proxy.stderr);
      assert.match(proxy.stderr, /Unknown user "nobodyx" \(global\.user\): not in \/etc\/passwd/);
      assert.doesNotMatch(proxy.stderr, /listening on/);
    } finally {
      await proxy.stop();
      config.remove();
    }
  });

  test("the pid file is written before the drop: a directory only root may write to works", async () => {
    const origin = await startOrigin((socket) => socket.pipe(socket));
    const port = await freePrivilegedPort();
    const config = configFile(tcpConfig(port, origin.address, `user = "nobody"`));
    const directory = mkdtempSync(join(tmpdir(), "proxy-pid-"));
    chmodSync(directory, 0o755);
    const pidfile = join(directory, "proxy.pid");
    const proxy = new CliProcess(["-f", config.path, "-p", pidfile]);
    try {
      await proxy.waitFor(new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
      assert.equal(readFileSync(pidfile, "utf8"), `${proxy.pid}\n`);
      proxy.sendSignal("SIGUSR1");
      assert.equal(await proxy.waitExit(), 0, proxy.stderr);
    } finally {
      await proxy.stop();
      await origin.close();
      config.remove();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test("-sf to a configuration naming another user: the old process, now nobody, is still told to finish", async (t) => {
    const other = otherUser();
    if (other === null) return t.skip("no user with a uid from 1 to 65533 in /etc/passwd");
    const origin = await startOrigin((socket) => socket.pipe(socket));
    const port = await freePrivilegedPort();
    const listening = new RegExp(`listening on 127\\.0\\.0\\.1:${port}`);
    const oldConfig = configFile(tcpConfig(port, origin.address, `user = "nobody"`));
    const newConfig = configFile(tcpConfig(port, origin.address, `user = "${other.name}"`));
    const old = new CliProcess(["-f", oldConfig.path]);
    let fresh: CliProcess | null = null;
    try {
      await old.waitFor(listening);
      fresh = new CliProcess(["-f", newConfig.path, "-sf", String(old.pid)]);
      await fresh.waitFor(listening);
      // The listeners the old process bound as root stay root's: shared, no pause needed.
      assert.doesNotMatch(fresh.stderr, /pausing old process/);
      assert.equal(await old.waitExit(), 0, `${old.stderr}\n${fresh.stderr}`);
      assert.equal(idsOfThreads(fresh.pid)[0]!.uid, Array(4).fill(other.uid).join(" "));
      assert.equal((await exchange(port, "after the reload")).toString(), "after the reload");
      fresh.sendSignal("SIGUSR1");
      assert.equal(await fresh.waitExit(), 0, fresh.stderr);
    } finally {
      await fresh?.stop();
      await old.stop();
      await origin.close();
      oldConfig.remove();
      newConfig.remove();
    }
  });
});
