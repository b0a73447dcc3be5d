/**
 * The standalone executable: `scripts/build.ts` compiles it (into a temporary directory here), and
 * the binary runs the quick start in tcp mode with two origins, answers `version`, and stops
 * gracefully on SIGUSR1.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exchange, sleep, startOrigin } from "./_cli_helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const NODE = join(ROOT, "node_modules", ".bin", "node");

test("the compiled binary runs the quick start and stops on SIGUSR1", async () => {
  const directory = mkdtempSync(join(tmpdir(), "proxy-build-"));
  const binary = join(directory, "proxy");
  const a = await startOrigin((socket) => socket.end("A"));
  const b = await startOrigin((socket) => socket.end("B"));
  try {
    const build = spawnSync(NODE, [join(ROOT, "scripts", "build.ts"), "--outfile", binary], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(build.status, 0, build.stderr);
    const version = spawnSync(binary, ["version"], { encoding: "utf8" });
    assert.match(version.stdout, /runtime: bun .*\(compiled executable\)/);

    const child = spawn(binary, ["--bind", "127.0.0.1:0", "--backend", `${a.address},${b.address}`, "--mode", "tcp"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      let port = 0;
      for (let i = 0; i < 500 && port === 0; i++) {
        const match = /listening on 127\.0\.0\.1:(\d+)/.exec(stderr);
        if (match !== null) port = Number(match[1]);
        else await sleep(20);
      }
      assert.ok(port > 0, `the binary did not listen: ${stderr}`);
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push((await exchange(port, "", false)).toString());
      assert.deepEqual(answers, ["A", "B", "A", "B"]);
      process.kill(child.pid!, "SIGUSR1");
      assert.equal(await Promise.race([exited, sleep(10_000).then(() => "timeout")]), 0);
    } finally {
      child.kill("SIGKILL");
    }
  } finally {
    await a.close();
    await b.close();
    rmSync(directory, { recursive: true, force: true });
  }
});
