/**
 * `npm run build` (scripts/build.ts): the host executable is stamped with its commit, date and
 * target and serves the quick start; usage errors and an unreachable Deno runtime download end
 * with a plain message and a non-zero status; the permissions baked into a `deno compile` build
 * are enough to start and serve; SHA256SUMS verifies what it lists.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, exchange, ROOT, startOrigin } from "./_cli_helpers.ts";
import { writeChecksums } from "../scripts/build/checksums.ts";
import { buildStamp } from "../scripts/build/build_stamp.ts";
import { DENO_COMPILE_PERMISSIONS } from "../scripts/build/deno_compile.ts";
import { hostTarget } from "../scripts/build/targets.ts";

const NODE = join(ROOT, "node_modules", ".bin", "node");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const BUILD = join(ROOT, "scripts", "build.ts");

function build(args: readonly string[], env: Record<string, string | undefined> = process.env) {
  return spawnSync(NODE, [BUILD, ...args], { cwd: ROOT, encoding: "utf8", timeout: 180_000, env });
}

/** Serves the quick start in tcp mode in front of two origins and checks round robin, then stops with SIGUSR1. */
async function assertServesRoundRobin(program: { command: string; prefix?: readonly string[] }): Promise<void> {
  const a = await startOrigin((socket) => socket.end("A"));
  const b = await startOrigin((socket) => socket.end("B"));
  const proxy = new CliProcess(["--bind", "127.0.0.1:0", "--backend", `${a.address},${b.address}`, "--mode", "tcp"], program);
  try {
    const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await exchange(port, "", false)).toString());
    assert.deepEqual(answers, ["A", "B", "A", "B"]);
    proxy.sendSignal("SIGUSR1");
    assert.equal(await proxy.waitExit(10_000), 0, proxy.stderr);
  } finally {
    await proxy.stop();
    await a.close();
    await b.close();
  }
}

/**
 * For the tests that compile: a build takes 10 to 30 s on a busy 2-core machine and more on a cold
 * one, past `bun test --timeout 60000` on a bad day. Their own bound, generous: it guards against a
 * hang, the build's child processes have theirs.
 */
const BUILD_TIMEOUT = { timeout: 600_000 };

test("the host executable reports its commit, build date and target, and serves", BUILD_TIMEOUT, async () => {
  const directory = mkdtempSync(join(tmpdir(), "proxy-build-"));
  const binary = join(directory, "proxy");
  try {
    const started = Date.now();
    const result = build(["--target", "host", "--outfile", binary]);
    assert.equal(result.status, 0, result.stderr);
    const version = spawnSync(binary, ["version", "-vv"], { encoding: "utf8" });
    assert.equal(version.status, 0, version.stderr);
    const head = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(version.stdout)?.[1];
    assert.match(field("commit") ?? "", new RegExp(`^${head}(-dirty)?$`));
    const date = Date.parse(field("build date") ?? "");
    assert.ok(date >= Math.floor(started / 1000) * 1000 && date <= Date.now(), `build date ${field("build date")}`);
    assert.equal(field("target"), `${hostTarget().name} (bun build --compile)`);
    assert.match(field("runtime") ?? "", /^bun \S+ \(compiled executable\)$/);
    assert.match(field("features") ?? "", /^[+-]reuseport [+-]tls [+-]privilege-drop [+-]permission-jail [+-]chroot$/);
    await assertServesRoundRobin({ command: binary });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("build usage errors name what is wrong and exit 2", BUILD_TIMEOUT, () => {
  const unknown = build(["--target", "plan9-x64", "--outfile", join(tmpdir(), "never")]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /Unknown target "plan9-x64": expected host or one of linux-x64, linux-arm64, /);
  const cross = build(["--runtime", "node", "--target", "windows-x64"]);
  assert.equal(cross.status, 2);
  assert.match(cross.stderr, /Cannot build "windows-x64" with node: a Node single executable is built for this machine only/);
  const flag = build(["--minify"]);
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /Unknown option "--minify"/);
});

test("a Deno build says plainly that its runtime cannot be fetched, and exits non-zero", BUILD_TIMEOUT, () => {
  const directory = mkdtempSync(join(tmpdir(), "proxy-deno-build-"));
  try {
    // An empty DENO_DIR has no cached denort, and a proxy that refuses every connection stands in
    // for a machine that cannot reach dl.deno.land (this one cannot anyway).
    const env: Record<string, string | undefined> = { ...process.env, DENO_DIR: join(directory, "cache"), HTTPS_PROXY: "http://127.0.0.1:1" };
    delete env.DENORT_BIN;
    const result = build(["--runtime", "deno", "--target", "linux-x64", "--outfile", join(directory, "proxy")], env);
    assert.equal(result.status, 1, result.stdout + result.stderr);
    assert.match(
      result.stderr,
      /^Build failed: Cannot fetch the Deno runtime that deno compile builds "linux-x64" from \("https:\/\/dl\.deno\.land\/release\/v[\d.]+\/denort-x86_64-unknown-linux-gnu\.zip"\): .+\. Download it on a machine that can, and point DENORT_BIN at the unzipped denort binary\n$/,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("the permissions a deno compile build gets are enough to start and serve", async () => {
  await assertServesRoundRobin({
    command: DENO,
    prefix: ["run", "--no-prompt", ...DENO_COMPILE_PERMISSIONS, join(ROOT, "src", "main.ts")],
  });
});

test("SHA256SUMS lists every proxy-* executable in sha256sum's format, and nothing else", async () => {
  const directory = mkdtempSync(join(tmpdir(), "proxy-sums-"));
  try {
    writeFileSync(join(directory, "proxy-linux-x64"), "linux");
    writeFileSync(join(directory, "proxy-windows-x64.exe"), "windows");
    writeFileSync(join(directory, "proxy"), "the host copy");
    mkdirSync(join(directory, ".build"));
    const lines = await writeChecksums(directory);
    const sha = (text: string) => createHash("sha256").update(text).digest("hex");
    const expected = [`${sha("linux")}  proxy-linux-x64`, `${sha("windows")}  proxy-windows-x64.exe`];
    assert.deepEqual(lines, expected);
    assert.equal(readFileSync(join(directory, "SHA256SUMS"), "utf8"), expected.join("\n") + "\n");
    const check = spawnSync("sha256sum", ["-c", "SHA256SUMS"], { cwd: directory, encoding: "utf8" });
    if (check.error === undefined) assert.equal(check.status, 0, check.stdout + check.stderr);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("a build stamp takes its date from SOURCE_DATE_EPOCH when given", () => {
  const saved = process.env.SOURCE_DATE_EPOCH;
  process.env.SOURCE_DATE_EPOCH = "1767225600";
  try {
    const stamp = buildStamp(ROOT, "linux-arm64", "bun build --compile");
    assert.equal(stamp.date, "2026-01-01T00:00:00Z");
    assert.equal(stamp.target, "linux-arm64");
    assert.match(stamp.commit, /^([0-9a-f]{12}(-dirty)?|unknown)$/);
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
});
