/**
 * `proxy version -vv`: the build stamp of a compiled executable (or "run from source") and the
 * features line, from what the runtime reports.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { buildInfo, recordBuild } from "../src/build_info.ts";
import { detailedVersionLines } from "../src/cli/version_command.ts";
import type { Runtime, RuntimeInfo } from "../src/runtime/types.ts";
import { CliProcess } from "./_cli_helpers.ts";

function runtimeWith(info: Partial<RuntimeInfo>): Runtime {
  const base: RuntimeInfo = {
    name: "bun",
    version: "1.4.5",
    os: "linux",
    arch: "arm64",
    socketApi: "native",
    compiled: true,
    jail: "none",
    affinity: true,
    identity: true,
    chroot: true,
    reusePort: true,
    inheritableSockets: true,
    tls: { ciphers: true, ciphersuites: false, versions: ["TLSv1.2", "TLSv1.3"], readBeforeHandshake: true, writeBeforeHandshake: true },
    byteSlabs: false,
  };
  return { info: { ...base, ...info } } as Runtime;
}

test("a stamped build names its commit, date, target and compiler", () => {
  const saved = buildInfo();
  recordBuild({ commit: "0123456789ab", date: "2026-11-24T21:53:45Z", target: "linux-arm64", compiler: "bun build --compile" });
  try {
    const lines = detailedVersionLines(runtimeWith({}));
    assert.deepEqual(lines.slice(0, 5), [
      lines[0],
      "commit: 0123456789ab",
      "build date: 2026-11-24T21:53:45Z",
      "target: linux-arm64 (bun build --compile)",
      "runtime: bun 1.4.5 (compiled executable)",
    ]);
    assert.match(lines[0]!, /^proxy \d+\.\d+\.\d+/);
    assert.ok(lines.includes("poller: epoll"));
    assert.ok(lines.includes("features: +reuseport +tls +privilege-drop -permission-jail +chroot"));
    assert.ok(lines.includes('  tls: binds terminate TLS (node:tls): TLSv1.2, TLSv1.3; "ciphers" can be set'));
    assert.ok(lines.includes("  permission-jail: Bun has no permission model: -W workers run with the master's rights"));
    assert.ok(lines.includes(
      '  chroot: "chroot" is applied after binding, standalone and in -W workers: chroot(2) through bun:ffi',
    ));
  } finally {
    (globalThis as Record<string, unknown>).__proxyBuildInfo = saved;
  }
});

test("the features follow the runtime: Windows without reuseport or privilege drop, Node's jail", () => {
  const windows = detailedVersionLines(
    runtimeWith({ os: "win32", arch: "x64", reusePort: false, identity: false, chroot: false }),
  );
  assert.ok(windows.includes("poller: IOCP"));
  assert.ok(windows.includes("features: -reuseport +tls -privilege-drop -permission-jail -chroot"));
  assert.ok(windows.includes("  privilege-drop: user and group cannot be changed here"));
  assert.ok(windows.includes("  chroot: chroot(2) is called through FFI on Linux only, not on win32"));
  const sea = detailedVersionLines(
    runtimeWith({ name: "node", jail: "node-permission-model", compiled: true, chroot: false }),
  );
  assert.ok(sea.includes("features: +reuseport +tls +privilege-drop +permission-jail -chroot"));
  assert.ok(sea.includes("  permission-jail: -W workers run under Node's permission model: no file access"));
  assert.ok(sea.includes(
    '  chroot: Node has no FFI: with "chroot", -W workers are jailed by the permission model instead, ' +
      "a standalone process refuses to start",
  ));
});

test("the chroot feature says why per runtime: Deno with or without FFI, a deno compile build", () => {
  const deno = { name: "deno", version: "2.9.6", socketApi: "node:net", compiled: false, jail: "deno-permissions" } as const;
  const withFfi = detailedVersionLines(runtimeWith({ ...deno, chroot: true }));
  assert.ok(withFfi.includes(
    '  chroot: "chroot" is applied after binding, standalone and in -W workers: chroot(2) through ' +
      "Deno's FFI (--allow-ffi; -W workers get it until they are chrooted)",
  ));
  const withoutFfi = detailedVersionLines(runtimeWith({ ...deno, chroot: false }));
  assert.ok(withoutFfi.includes('  chroot: Deno runs without --allow-ffi here: "chroot" is refused'));
  const compiled = detailedVersionLines(runtimeWith({ ...deno, compiled: true, jail: "none", chroot: false }));
  assert.ok(compiled.includes('  chroot: this deno compile build has no FFI permission: "chroot" is refused'));
});

test("run from source, -vv says so; a stray argument is a usage error", async () => {
  const source = new CliProcess(["version", "-vv"]);
  await source.waitExit();
  assert.equal(source.exitCode, 0, source.stderr);
  assert.match(source.stdout, /^commit: unknown \(run from source\)$/m);
  assert.match(source.stdout, /^target: \S+-\S+ \(run from source\)$/m);
  assert.match(source.stdout, /^features: [+-]reuseport \+tls [+-]privilege-drop [+-]permission-jail [+-]chroot$/m);
  const haproxyStyle = new CliProcess(["-vv"]);
  await haproxyStyle.waitExit();
  assert.equal(haproxyStyle.stdout, source.stdout);
  const stray = new CliProcess(["version", "--bogus"]);
  assert.equal(await stray.waitExit(), 2);
  assert.match(stray.stderr, /Unknown option "--bogus"/);
});
