/**
 * `workers` and `cpu-map`: how many workers, which cores each gets, the start-up checks, and
 * pinning through the runtime contract (a fake runtime records the calls).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkCpuMap, coresOfWorker, formatCores, pinProcess, pinStandalone, workerCount } from "../src/lifecycle/cpu_map.ts";
import { LifecycleError } from "../src/lifecycle/errors.ts";
import { loadConfigSources } from "../src/config/load.ts";
import type { GlobalConfig } from "../src/config/types.ts";
import type { Logger } from "../src/core/logger.ts";
import type { Runtime, RuntimeInfo } from "../src/runtime/types.ts";

/** The runtime members cpu_map.ts uses, with pinning recorded. */
class FakeRuntime {
  info: RuntimeInfo;
  pid = 4242;
  cores: number;
  pinned: [number, readonly number[]][] = [];
  affinityFailure: Error | null = null;

  constructor(cores: number, info: Partial<RuntimeInfo> = {}) {
    this.cores = cores;
    this.info = {
      name: "bun", version: "1.4.5", os: "linux", arch: "x64", socketApi: "node:net", compiled: false, jail: "none",
      affinity: true, identity: true, chroot: false, reusePort: true, inheritableSockets: true,
      tls: { ciphers: true, ciphersuites: true, versions: ["TLSv1.2", "TLSv1.3"], readBeforeHandshake: true, writeBeforeHandshake: true }, byteSlabs: false, ...info,
    };
  }

  cpuCount(): number {
    return this.cores;
  }

  setAffinity(pid: number, cores: readonly number[]): void {
    if (this.affinityFailure !== null) throw this.affinityFailure;
    this.pinned.push([pid, cores]);
  }

  get runtime(): Runtime {
    return this as unknown as Runtime;
  }
}

/** A logger that keeps every message with its level. */
class RecordingLogger implements Logger {
  lines: string[] = [];
  emerg(message: string) { this.lines.push(`emerg: ${message}`); }
  alert(message: string) { this.lines.push(`alert: ${message}`); }
  error(message: string) { this.lines.push(`error: ${message}`); }
  warn(message: string) { this.lines.push(`warn: ${message}`); }
  notice(message: string) { this.lines.push(`notice: ${message}`); }
  info(message: string) { this.lines.push(`info: ${message}`); }
  debug(message: string) { this.lines.push(`debug: ${message}`); }
}

/** [global] as the configuration loader builds it from `lines`. */
function globalOf(...lines: string[]): GlobalConfig {
  const text = `[global]\n${lines.join("\n")}\n[frontends.web]\nbind = ":8080"\ndefault-backend = "app"\n` +
    `[backends.app]\nservers = [{ name = "a", address = "10.0.0.1:80" }]\n`;
  return loadConfigSources([{ name: "test.toml", text }]).config.global;
}

/** Runs `check` and expects a LifecycleError with LIFECYCLE_AFFINITY; returns its message. */
function refusal(check: () => void): string {
  try {
    check();
  } catch (error) {
    assert.ok(error instanceof LifecycleError, String(error));
    assert.equal(error.code, "LIFECYCLE_AFFINITY");
    return error.message;
  }
  assert.fail("expected a refusal");
}

describe("workers", () => {
  test("a number is taken as it is, auto is one per core this process may use", () => {
    assert.equal(workerCount(globalOf(), new FakeRuntime(8).runtime), 1);
    assert.equal(workerCount(globalOf("workers = 3"), new FakeRuntime(8).runtime), 3);
    assert.equal(workerCount(globalOf(`workers = "auto"`), new FakeRuntime(8).runtime), 8);
    assert.equal(workerCount(globalOf(`workers = "auto"`), new FakeRuntime(1).runtime), 1);
  });
});

describe("coresOfWorker", () => {
  test("no cpu-map: no worker is pinned", () => {
    assert.equal(coresOfWorker(null, 1, 4), null);
  });

  test("auto: worker N on core N-1, wrapping round the cores", () => {
    const cpuMap = globalOf(`cpu-map = "auto"`).cpuMap;
    assert.deepEqual([1, 2, 3, 4, 5].map((worker) => coresOfWorker(cpuMap, worker, 2)), [[0], [1], [0], [1], [0]]);
    assert.deepEqual(coresOfWorker(cpuMap, 7, 8), [6]);
  });

  test("sets: the worker's own set, else all, else not pinned", () => {
    const withAll = globalOf(`cpu-map = { 1 = "0-2,5", 3 = [1, 0], all = "6" }`).cpuMap;
    assert.deepEqual(coresOfWorker(withAll, 1, 8), [0, 1, 2, 5]);
    assert.deepEqual(coresOfWorker(withAll, 2, 8), [6]);
    assert.deepEqual(coresOfWorker(withAll, 3, 8), [0, 1]);
    const withoutAll = globalOf(`cpu-map = { 2 = 1 }`).cpuMap;
    assert.equal(coresOfWorker(withoutAll, 1, 8), null);
    assert.deepEqual(coresOfWorker(withoutAll, 2, 8), [1]);
  });
});

describe("checkCpuMap", () => {
  test("no cpu-map is never a problem, even where pinning is impossible", () => {
    checkCpuMap(globalOf("workers = 4"), new FakeRuntime(2, { name: "node", affinity: false }).runtime);
  });

  test("a runtime that cannot pin: refused at start, saying which and what to do", () => {
    const node = new FakeRuntime(2, { name: "node", version: "24.21.0", affinity: false }).runtime;
    assert.equal(
      refusal(() => checkCpuMap(globalOf(`cpu-map = "auto"`), node)),
      `"cpu-map" cannot be applied: node 24.21.0 cannot pin processes to cores on linux (Node has no FFI to call ` +
        `sched_setaffinity; run the proxy under Bun or Deno); remove "cpu-map" from [global], or pin the whole proxy with taskset`,
    );
    const deno = new FakeRuntime(2, { name: "deno", version: "2.9.6", affinity: false }).runtime;
    assert.match(
      refusal(() => checkCpuMap(globalOf(`cpu-map = { all = 0 }`), deno)),
      /deno 2\.9\.6 cannot pin processes to cores on linux \(Deno needs --allow-ffi/,
    );
    assert.match(
      refusal(() => checkCpuMap(globalOf(`cpu-map = "auto"`), new FakeRuntime(2, { os: "darwin", affinity: false }).runtime)),
      /bun 1\.4\.5 cannot pin processes to cores on darwin \(pinning is implemented with sched_setaffinity, on Linux only\)/,
    );
  });

  test("a core beyond this machine's: named with its key", () => {
    const runtime = new FakeRuntime(2).runtime;
    checkCpuMap(globalOf(`cpu-map = { 1 = "0-1", all = 1 }`), runtime);
    checkCpuMap(globalOf(`cpu-map = "auto"`, `workers = 9`), runtime);
    assert.equal(
      refusal(() => checkCpuMap(globalOf(`cpu-map = { 1 = 0, 2 = "1-3" }`), runtime)),
      "Core 2 (global.cpu-map.2) does not exist here: this process may run on 2 cores (0 to 1)",
    );
    assert.equal(
      refusal(() => checkCpuMap(globalOf(`cpu-map = { all = [0, 5] }`), new FakeRuntime(1).runtime)),
      "Core 5 (global.cpu-map.all) does not exist here: this process may run on 1 core (0)",
    );
  });
});

describe("pinning", () => {
  test("pinProcess pins through the runtime and says so", () => {
    const fake = new FakeRuntime(8);
    const logger = new RecordingLogger();
    pinProcess(fake.runtime, 777, [1], logger, "Worker 2 (pid 777)");
    pinProcess(fake.runtime, 778, [0, 1, 2, 3, 6], logger, "Worker 3 (pid 778)");
    assert.deepEqual(fake.pinned, [[777, [1]], [778, [0, 1, 2, 3, 6]]]);
    assert.deepEqual(logger.lines, [
      "info: Worker 2 (pid 777) pinned to core 1",
      "info: Worker 3 (pid 778) pinned to cores 0-3,6",
    ]);
  });

  test("a refusal of the runtime or the kernel becomes a LifecycleError naming the process", () => {
    const fake = new FakeRuntime(8);
    fake.affinityFailure = new Error("Cannot pin process 777 to cores 5: sched_setaffinity failed for thread 777");
    const logger = new RecordingLogger();
    assert.equal(
      refusal(() => pinProcess(fake.runtime, 777, [5], logger, "Worker 1 (pid 777)")),
      `Cannot apply "cpu-map" to Worker 1 (pid 777): Cannot pin process 777 to cores 5: sched_setaffinity failed for thread 777`,
    );
    assert.deepEqual(logger.lines, []);
  });

  test("pinStandalone checks, then pins our own process as worker 1", () => {
    const logger = new RecordingLogger();
    const fake = new FakeRuntime(2);
    pinStandalone(globalOf(`cpu-map = { 1 = 1, all = 0 }`), fake.runtime, logger);
    assert.deepEqual(fake.pinned, [[4242, [1]]]);
    assert.deepEqual(logger.lines, ["info: Proxy (pid 4242) pinned to core 1"]);
    const auto = new FakeRuntime(2);
    pinStandalone(globalOf(`cpu-map = "auto"`), auto.runtime, logger);
    assert.deepEqual(auto.pinned, [[4242, [0]]]);
    const unpinned = new FakeRuntime(2);
    pinStandalone(globalOf(`cpu-map = { 2 = 1 }`), unpinned.runtime, logger);
    pinStandalone(globalOf(), unpinned.runtime, logger);
    assert.deepEqual(unpinned.pinned, []);
    const tooFew = new FakeRuntime(1);
    assert.match(refusal(() => pinStandalone(globalOf(`cpu-map = { 1 = 1 }`), tooFew.runtime, logger)), /^Core 1 /);
    assert.deepEqual(tooFew.pinned, []);
  });

  test("formatCores writes ranges as cpu-map reads them", () => {
    assert.equal(formatCores([0]), "0");
    assert.equal(formatCores([0, 1]), "0,1");
    assert.equal(formatCores([3, 0, 1, 2, 6, 8, 9, 10]), "0-3,6,8-10");
    assert.equal(formatCores([5, 5, 4]), "4,5");
  });
});
