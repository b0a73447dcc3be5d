/**
 * `chroot`: the [global] key as the loader checks it (positions, a missing directory, a file, a
 * relative path), the refusals before binding per runtime and privilege, the call and its errors,
 * and what a worker says, against a fake runtime. tests/chroot.e2e.test.ts runs the real thing.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { enterChroot, enterWorkerChroot, planChroot, reportChroot } from "../src/lifecycle/chroot.ts";
import { LifecycleError } from "../src/lifecycle/errors.ts";
import {
  ConfigFileError,
  formatConfigIssue,
  loadConfigFiles,
  loadConfigSources,
} from "../src/config/load.ts";
import { ChrootError, chrootErrorOfErrno, chrootUnsupported } from "../src/runtime/chroot_error.ts";
import { chrootWith } from "../src/runtime/_chroot.ts";
import type { GlobalConfig } from "../src/config/types.ts";
import type { Logger } from "../src/core/logger.ts";
import type { FileAccess, PathKind, Runtime, RuntimeInfo } from "../src/runtime/types.ts";

/** /proc/self/status with the given effective capabilities (hex). */
function procStatus(capEff: string): string {
  return `Name:\tproxy\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\n`;
}

/** Root's full set, and the same without CAP_SYS_CHROOT (bit 18), as a container may give. */
const ALL_CAPS = "000001ffffffffff";
const ALL_BUT_CHROOT = (0x1ffffffffffn & ~(1n << 18n)).toString(16).padStart(16, "0");

/** The runtime members chroot.ts uses, with paths and files served from memory and calls recorded. */
class FakeRuntime {
  info: RuntimeInfo;
  uid: number;
  status: string | null;
  paths = new Map<string, PathKind>([["/var/empty", "directory"], ["/etc/passwd", "file"]]);
  access = new Map<string, FileAccess>();
  chroots: string[] = [];
  chrootFailure: Error | null = null;

  constructor(options: { uid?: number; capEff?: string | null; info?: Partial<RuntimeInfo> } = {}) {
    this.info = {
      name: "bun",
      version: "1.4.5",
      os: "linux",
      arch: "x64",
      socketApi: "native",
      compiled: false,
      jail: "none",
      affinity: true,
      identity: true,
      chroot: true,
      reusePort: true,
      inheritableSockets: true,
      tls: { ciphers: true, ciphersuites: true, versions: ["TLSv1.2", "TLSv1.3"], readBeforeHandshake: true, writeBeforeHandshake: true },
      byteSlabs: false,
      ...options.info,
    };
    this.uid = options.uid ?? 0;
    const capEff = options.capEff === undefined
      ? (this.uid === 0 ? ALL_CAPS : "0000000000000000")
      : options.capEff;
    this.status = capEff === null ? null : procStatus(capEff);
  }

  userId(): number {
    return this.uid;
  }

  readTextFile(path: string): Promise<string> {
    if (path === "/proc/self/status" && this.status !== null) return Promise.resolve(this.status);
    return Promise.reject(new Error(`ENOENT: no such file or directory, open '${path}'`));
  }

  pathKind(path: string): Promise<PathKind> {
    return Promise.resolve(this.paths.get(path) ?? "missing");
  }

  fileAccess(path: string): Promise<FileAccess> {
    return Promise.resolve(this.access.get(path) ?? "failed");
  }

  chroot(dir: string): void {
    if (this.chrootFailure !== null) throw this.chrootFailure;
    this.chroots.push(dir);
  }

  get runtime(): Runtime {
    return this as unknown as Runtime;
  }
}

/** A logger that keeps every message with its level. */
class RecordingLogger implements Logger {
  lines: string[] = [];
  emerg(message: string) {
    this.lines.push(`emerg: ${message}`);
  }
  alert(message: string) {
    this.lines.push(`alert: ${message}`);
  }
  error(message: string) {
    this.lines.push(`error: ${message}`);
  }
  warn(message: string) {
    this.lines.push(`warn: ${message}`);
  }
  notice(message: string) {
    this.lines.push(`notice: ${message}`);
  }
  info(message: string) {
    this.lines.push(`info: ${message}`);
  }
  debug(message: string) {
    this.lines.push(`debug: ${message}`);
  }
}

const PROXY = `[frontends.web]\nbind = ":8080"\ndefault-backend = "app"\n` +
  `[backends.app]\nservers = [{ name = "a", address = "10.0.0.1:80" }]\n`;

/** [global] as the loader builds it from `lines`, without looking at the file system. */
function globalOf(...lines: string[]): GlobalConfig {
  return loadConfigSources([{ name: "test.toml", text: `[global]\n${lines.join("\n")}\n${PROXY}` }]).config
    .global;
}

/** Loads `text` as the file "proxy.toml" with `paths` as the file system; returns the issues or the chroot. */
async function load(
  text: string,
  paths: Record<string, PathKind | Error>,
): Promise<string[] | string | null> {
  try {
    const loaded = await loadConfigFiles(
      ["proxy.toml"],
      (path) => path === "proxy.toml" ? Promise.resolve(text) : Promise.reject(new Error("not here")),
      (path) => {
        const found = paths[path] ?? "missing";
        return found instanceof Error ? Promise.reject(found) : Promise.resolve(found);
      },
    );
    return loaded.config.global.chroot;
  } catch (error) {
    assert.ok(error instanceof ConfigFileError, String(error));
    return error.issues.map(formatConfigIssue);
  }
}

/** Plans and expects a LifecycleError with LIFECYCLE_CHROOT; returns its message. */
async function refusal(
  global: GlobalConfig,
  fake: FakeRuntime,
  role: "standalone" | "master" = "standalone",
): Promise<string> {
  try {
    const planned = await planChroot(global, fake.runtime, role);
    assert.fail(`expected a refusal, got ${JSON.stringify(planned)}`);
  } catch (error) {
    assert.ok(error instanceof LifecycleError, String(error));
    assert.equal(error.code, "LIFECYCLE_CHROOT");
    return error.message;
  }
}

describe("the chroot key", () => {
  test("unset: null; set to a directory: its path", async () => {
    assert.equal(globalOf().chroot, null);
    assert.equal(
      await load(`[global]\nchroot = "/var/empty"\n${PROXY}`, { "/var/empty": "directory" }),
      "/var/empty",
    );
  });

  test("a missing directory, a file, a path that cannot be looked at: errors at file:line:col", async () => {
    const text = `[global]\nmaxconn = 100\nchroot = "/var/empty"\n${PROXY}`;
    assert.deepEqual(await load(text, {}), [
      `proxy.toml:3:10: global.chroot: Chroot directory "/var/empty" does not exist: create it (empty, owned by root, mode 755)`,
    ]);
    assert.deepEqual(await load(text, { "/var/empty": "file" }), [
      `proxy.toml:3:10: global.chroot: Chroot "/var/empty" is not a directory`,
    ]);
    assert.deepEqual(
      await load(text, { "/var/empty": new Error("EACCES: permission denied, stat '/var/empty'") }),
      [
        `proxy.toml:3:10: global.chroot: Cannot check the chroot directory "/var/empty": EACCES: permission denied, stat '/var/empty'`,
      ],
    );
  });

  test("not an absolute path: refused before anything is looked at", async () => {
    for (const value of [`"var/empty"`, `""`, `42`, `["/var/empty"]`, `"./jail"`]) {
      const issues = await load(`[global]\nchroot = ${value}\n${PROXY}`, { "var/empty": "directory" });
      assert.ok(Array.isArray(issues), `${value} was accepted`);
      assert.match(
        issues[0]!,
        /^proxy\.toml:2:10: global\.chroot: Expected the absolute path of a directory such as "\/var\/empty", found /,
      );
    }
  });

  test("texts validated without a file system (a -W worker) are not checked: the master was", () => {
    assert.equal(globalOf(`chroot = "/nowhere/at/all"`).chroot, "/nowhere/at/all");
  });

  test("a misspelled key gets a suggestion", async () => {
    const issues = await load(`[global]\nchrot = "/var/empty"\n${PROXY}`, {});
    assert.ok(Array.isArray(issues));
    assert.match(issues[0]!, /global\.chrot: Unknown key "chrot": did you mean "chroot"\?/);
  });
});

describe("planChroot", () => {
  test("no chroot: null, and nothing is looked at", async () => {
    const fake = new FakeRuntime({ info: { chroot: false } });
    assert.equal(await planChroot(globalOf(), fake.runtime, "standalone"), null);
  });

  test("root on a runtime that can: the directory", async () => {
    assert.equal(
      await planChroot(globalOf(`chroot = "/var/empty"`), new FakeRuntime().runtime, "standalone"),
      "/var/empty",
    );
  });

  test("Node standalone refuses and points at -W; a Node master passes, its workers keep the permission model", async () => {
    const node = new FakeRuntime({
      info: { name: "node", version: "24.21.0", chroot: false, jail: "node-permission-model" },
    });
    assert.equal(
      await refusal(globalOf(`chroot = "/var/empty"`), node),
      `Cannot chroot to "/var/empty" (global.chroot): Node has no FFI to call chroot(2): run with -W, whose workers ` +
        `Node's permission model jails instead (docs/security.md), run on Bun or Deno (or the default executable), ` +
        `or remove "chroot" from [global]`,
    );
    assert.equal(await planChroot(globalOf(`chroot = "/var/empty"`), node.runtime, "master"), "/var/empty");
  });

  test("Deno without FFI, a deno compile build, another OS: refused with what would help", async () => {
    const deno = { name: "deno", version: "2.9.6", chroot: false, jail: "deno-permissions" } as const;
    assert.match(
      await refusal(globalOf(`chroot = "/var/empty"`), new FakeRuntime({ info: deno }), "master"),
      /: Deno needs the FFI permission to call chroot\(2\): run it with --allow-ffi \(or -A\), or remove "chroot"/,
    );
    assert.match(
      await refusal(
        globalOf(`chroot = "/var/empty"`),
        new FakeRuntime({ info: { ...deno, compiled: true, jail: "none" } }),
      ),
      /: this deno compile build has no FFI permission: use the default executable \(Bun\)/,
    );
    assert.match(
      await refusal(
        globalOf(`chroot = "/var/empty"`),
        new FakeRuntime({ info: { os: "darwin", chroot: false } }),
      ),
      /: chroot\(2\) is called through FFI on Linux only, not on darwin/,
    );
  });

  test("neither root nor CAP_SYS_CHROOT: refused before binding; the capability alone is enough", async () => {
    assert.equal(
      await refusal(globalOf(`chroot = "/var/empty"`), new FakeRuntime({ uid: 1000 })),
      `Cannot chroot to "/var/empty" (global.chroot): this process runs as uid 1000 without CAP_SYS_CHROOT, and only ` +
        `root or a process with that capability may chroot; start the proxy as root (with "user" to drop root's ` +
        `privileges after the chroot)`,
    );
    // Root in a container that dropped the capability.
    assert.match(
      await refusal(globalOf(`chroot = "/var/empty"`), new FakeRuntime({ uid: 0, capEff: ALL_BUT_CHROOT })),
      /runs as uid 0 without CAP_SYS_CHROOT/,
    );
    const capable = new FakeRuntime({ uid: 1000, capEff: (1n << 18n).toString(16).padStart(16, "0") });
    assert.equal(
      await planChroot(globalOf(`chroot = "/var/empty"`), capable.runtime, "standalone"),
      "/var/empty",
    );
    // No /proc: the uid alone decides.
    assert.match(
      await refusal(globalOf(`chroot = "/var/empty"`), new FakeRuntime({ uid: 1000, capEff: null })),
      /uid 1000/,
    );
    const rootNoProc = new FakeRuntime({ uid: 0, capEff: null });
    assert.equal(
      await planChroot(globalOf(`chroot = "/var/empty"`), rootNoProc.runtime, "standalone"),
      "/var/empty",
    );
  });

  test("a directory gone or replaced since the configuration was checked: refused", async () => {
    const fake = new FakeRuntime();
    fake.paths.delete("/var/empty");
    assert.match(
      await refusal(globalOf(`chroot = "/var/empty"`), fake),
      /"\/var\/empty" \(global\.chroot\): no such directory$/,
    );
    fake.paths.set("/var/empty", "file");
    assert.match(await refusal(globalOf(`chroot = "/var/empty"`), fake), /: not a directory$/);
  });
});

describe("enterChroot and the worker's jail", () => {
  test("chroots and says so", () => {
    const fake = new FakeRuntime();
    const logger = new RecordingLogger();
    enterChroot("/var/empty", fake.runtime, logger);
    assert.deepEqual(fake.chroots, ["/var/empty"]);
    assert.deepEqual(logger.lines, [
      `notice: Chrooted into "/var/empty" (global.chroot): the file system outside it is out of reach`,
    ]);
  });

  test("a failed call is a LifecycleError carrying the runtime's reason", () => {
    const fake = new FakeRuntime();
    fake.chrootFailure = chrootErrorOfErrno("/var/empty", "chroot", 1);
    const logger = new RecordingLogger();
    assert.throws(() => enterChroot("/var/empty", fake.runtime, logger), (error: unknown) => {
      assert.ok(error instanceof LifecycleError);
      assert.equal(error.code, "LIFECYCLE_CHROOT");
      assert.equal(
        error.message,
        `Cannot chroot to "/var/empty": operation not permitted (only root, or a process with CAP_SYS_CHROOT, may chroot) (global.chroot)`,
      );
      assert.ok(error.cause instanceof ChrootError);
      return true;
    });
    assert.deepEqual(logger.lines, []);
  });

  test("a Node worker is not chrooted and says which jail it has; others chroot", () => {
    const node = new FakeRuntime({ info: { name: "node", chroot: false, jail: "node-permission-model" } });
    const logger = new RecordingLogger();
    assert.equal(enterWorkerChroot("/var/empty", node.runtime, logger), null);
    assert.deepEqual(node.chroots, []);
    assert.deepEqual(logger.lines, [
      `notice: Not chrooted into "/var/empty" (global.chroot): Node has no FFI to call chroot(2); this worker is jailed by Node's permission model instead`,
    ]);
    const bun = new FakeRuntime();
    assert.equal(enterWorkerChroot("/var/empty", bun.runtime, new RecordingLogger()), "/var/empty");
    assert.equal(enterWorkerChroot(null, bun.runtime, new RecordingLogger()), null);
    assert.deepEqual(bun.chroots, ["/var/empty"]);
    // A Deno worker whose FFI is missing cannot keep a promise: it fails.
    const deno = new FakeRuntime({ info: { name: "deno", chroot: false, jail: "deno-permissions" } });
    deno.chrootFailure = chrootUnsupported("/var/empty", "Deno needs the FFI permission to call chroot(2)");
    assert.throws(
      () => enterWorkerChroot("/var/empty", deno.runtime, new RecordingLogger()),
      /Deno needs the FFI permission/,
    );
  });

  test("the self-check: out of reach, denied, or a warning when the directory holds the file", async () => {
    const fake = new FakeRuntime();
    const logger = new RecordingLogger();
    await reportChroot("/var/empty", "/etc/proxy.toml", fake.runtime, logger);
    fake.access.set("/etc/proxy.toml", "denied");
    await reportChroot("/var/empty", "/etc/proxy.toml", fake.runtime, logger);
    fake.access.set("/etc/proxy.toml", "readable");
    await reportChroot("/var/empty", "/etc/proxy.toml", fake.runtime, logger);
    await reportChroot("/var/empty", null, fake.runtime, logger);
    assert.deepEqual(logger.lines, [
      `info: File system closed: chrooted into "/var/empty", reading "/etc/proxy.toml" found nothing`,
      `info: File system closed: chrooted into "/var/empty", reading "/etc/proxy.toml" was denied`,
      `warn: File system open: reading "/etc/proxy.toml" succeeded inside the chroot "/var/empty": the chroot directory holds files, keep it empty`,
      `info: File system closed: chrooted into "/var/empty"`,
    ]);
  });
});

describe("the FFI calls", () => {
  /** chroot and chdir answering from `results`, errno from `errnos`, calls recorded. */
  function calls(results: number[], errnos: number[] = []) {
    const made: string[] = [];
    return {
      made,
      calls: {
        chroot: (
          path: Uint8Array,
        ) => (made.push(`chroot ${new TextDecoder().decode(path)}`), results.shift()!),
        chdir: (path: Uint8Array) => (made.push(`chdir ${new TextDecoder().decode(path)}`), results.shift()!),
        errno: () => errnos.shift()!,
      },
    };
  }

  test("chroot then chdir to /, each given a NUL-terminated path", () => {
    const { made, calls: libc } = calls([0, 0]);
    chrootWith("/var/empty", libc);
    assert.deepEqual(made, ["chroot /var/empty\0", "chdir /\0"]);
  });

  test("errno becomes the code: EPERM, ENOENT, ENOTDIR, EACCES, anything else EIO", () => {
    const cases: [number, string, RegExp][] = [
      [1, "EPERM", /operation not permitted \(only root, or a process with CAP_SYS_CHROOT, may chroot\)$/],
      [2, "ENOENT", /: no such directory$/],
      [20, "ENOTDIR", /: not a directory$/],
      [13, "EACCES", /: permission denied/],
      [40, "EIO", /: chroot failed with errno 40$/],
    ];
    for (const [errno, code, message] of cases) {
      const { calls: libc } = calls([-1], [errno]);
      assert.throws(() => chrootWith("/jail", libc), (error: unknown) => {
        assert.ok(error instanceof ChrootError);
        assert.equal(error.code, code);
        assert.match(error.message, /^Cannot chroot to "\/jail": /);
        assert.match(error.message, message);
        return true;
      });
    }
    const { made, calls: failedChdir } = calls([0, -1], [13]);
    assert.throws(() => chrootWith("/jail", failedChdir), { code: "EACCES" });
    assert.equal(made.length, 2);
  });

  test("a path with a NUL byte never reaches the call", () => {
    const { made, calls: libc } = calls([0, 0]);
    assert.throws(() => chrootWith("/var\0/empty", libc), { code: "ENOENT" });
    assert.deepEqual(made, []);
  });
});
