/**
 * `cpu-map` end to end for a process serving on its own (`workers = 1`, no -W): on Bun and Deno
 * every thread of the proxy ends up on the core named, as /proc shows; Node cannot pin and refuses
 * to start; a core this machine lacks is refused everywhere. Workers of a master are pinned by the
 * master (tests/master_worker.e2e.test.ts).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import { CliProcess, exchange, startOrigin } from "./_cli_helpers.ts";
import { configFile } from "./_http_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";

/** Why these tests cannot run here, or null. */
function skipReason(): string | null {
  if (process.platform !== "linux") return "Linux only: pinning is sched_setaffinity, checked in /proc";
  if (availableParallelism() < 2) return "needs 2 cores: pinning to the only core shows nothing";
  return null;
}

/** Cpus_allowed_list of every thread of `pid`. */
function coresOfThreads(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    return /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? "?";
  });
}

/** A tcp-mode config on a free loopback port to `origin`, with `globals` in [global]. */
function tcpConfig(origin: string, globals: string): string {
  return `[global]\n${globals}\n\n[frontends.web]\nmode = "tcp"\nbind = "127.0.0.1:0"\ndefault-backend = "app"\n\n` +
    `[backends.app]\nmode = "tcp"\nservers = [{ name = "origin", address = "${origin}" }]\n`;
}

describe("cpu-map end to end (standalone)", { skip: skipReason() ?? false }, () => {
  const runtime = detectRuntimeName();
  // The last core: the one least likely to be where the process started anyway.
  const core = availableParallelism() - 1;

  test(runtime === "node" ? "node cannot pin: exit 1 saying so" : "every thread on the core named, and it proxies", async () => {
    const origin = await startOrigin((socket) => socket.pipe(socket));
    const config = configFile(tcpConfig(origin.address, `cpu-map = { 1 = ${core} }`));
    const proxy = new CliProcess(["-f", config.path]);
    try {
      if (runtime === "node") {
        assert.equal(await proxy.waitExit(), 1, proxy.stderr);
        assert.match(proxy.stderr, /"cpu-map" cannot be applied: node \S+ cannot pin processes to cores on linux \(Node has no FFI/);
        assert.doesNotMatch(proxy.stderr, /listening on/);
        return;
      }
      const match = await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/);
      assert.match(proxy.stderr, new RegExp(`Proxy \\(pid ${proxy.pid}\\) pinned to core ${core}`));
      const cores = coresOfThreads(proxy.pid);
      assert.ok(cores.length > 1, `a runtime has threads of its own: ${cores.length}`);
      assert.deepEqual(cores, cores.map(() => `${core}`));
      assert.equal((await exchange(Number(match[1]), "pinned")).toString(), "pinned");
      // Threads started after the pinning inherit it: look again once it has served.
      assert.deepEqual(coresOfThreads(proxy.pid), coresOfThreads(proxy.pid).map(() => `${core}`));
      proxy.sendSignal("SIGUSR1");
      assert.equal(await proxy.waitExit(), 0, proxy.stderr);
    } finally {
      await proxy.stop();
      await origin.close();
      config.remove();
    }
  });

  test("a core this machine lacks: exit 1 naming it", async () => {
    const cores = availableParallelism();
    const config = configFile(tcpConfig("127.0.0.1:9", `cpu-map = { all = "0-${cores}" }`));
    const proxy = new CliProcess(["-f", config.path]);
    try {
      assert.equal(await proxy.waitExit(), 1, proxy.stderr);
      const expected = runtime === "node"
        ? /"cpu-map" cannot be applied: node/
        : new RegExp(`Core ${cores} \\(global\\.cpu-map\\.all\\) does not exist here: this process may run on ${cores} cores`);
      assert.match(proxy.stderr, expected);
    } finally {
      await proxy.stop();
      config.remove();
    }
  });
});
