/**
 * The Node single executable application (`scripts/build/node_sea.ts`), built from src/main.ts into
 * a temporary directory: it says it is a compiled Node executable, runs the quick start, and runs
 * -W with jailed workers it starts from its own binary. The build runs node_modules/.bin tools as
 * subprocesses, so the file runs under every test runner; the SEA build is Linux only, as are the
 * /proc reads that find the workers.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliProcess, deadPort, exchange, startOrigin } from "./_cli_helpers.ts";
import { buildNodeSea } from "../scripts/build/node_sea.ts";
import { seaChildArgs } from "../src/runtime/node.ts";
import { MasterProcess } from "./_process_helpers.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LINUX_ONLY = process.platform === "linux" ? false : "the SEA build and the /proc reads are Linux only";

describe("seaChildArgs: a SEA child's command line after the binary", () => {
  test("no Node flags: the arguments alone, no entry script", () => {
    assert.deepEqual(seaChildArgs([], ["__worker"], false), ["__worker"]);
  });

  test("jailed: the permission model with no grant, in one --node-options argument before the arguments", () => {
    assert.deepEqual(seaChildArgs([], ["__worker"], true), ["--node-options=--permission", "__worker"]);
  });

  test("kept flags are passed on and quoted as Node splits them; test-runner flags and, jailed, preloads are not", () => {
    const execArgv = [
      "--max-old-space-size=100",
      "--disable-warning=Some Thing",
      "--conditions",
      "x",
      "--test-reporter=spec",
      "--require",
      "/tmp/preload.cjs",
      '--disable-warning=a"b\\c',
    ];
    assert.deepEqual(seaChildArgs(execArgv, ["__worker"], true), [
      '--node-options=--max-old-space-size=100 "--disable-warning=Some Thing" --conditions x "--disable-warning=a\\"b\\\\c" --permission',
      "__worker",
    ]);
    assert.deepEqual(seaChildArgs(["--require", "/tmp/preload.cjs"], ["a"], false), [
      "--node-options=--require /tmp/preload.cjs",
      "a",
    ]);
  });
});

/**
 * For the tests that need the SEA: the first one builds it (10 to 30 s on a busy 2-core machine,
 * more on a cold one), past `bun test --timeout 60000` on a bad day. Whichever test runs first
 * builds, so each gets this bound, generous: it guards against a hang.
 */
const SEA_TIMEOUT = { timeout: 600_000 };

describe("Node single executable application", { skip: LINUX_ONLY }, () => {
  const directory = mkdtempSync(join(tmpdir(), "proxy-node-sea-"));
  const binary = join(directory, "proxy");
  let built: Error | true | undefined;
  after(() => rmSync(directory, { recursive: true, force: true }));

  /** Builds the SEA once, for the first test that needs it; the others get the same binary or error. */
  function sea(): string {
    if (built === undefined) {
      try {
        const started = performance.now();
        buildNodeSea({
          root: ROOT,
          entry: join(ROOT, "src", "main.ts"),
          outfile: binary,
          workDir: join(directory, "work"),
        });
        process.stderr.write(`# Node SEA built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
        built = true;
      } catch (error) {
        built = error instanceof Error ? error : new Error(String(error));
      }
    }
    if (built !== true) throw built;
    return binary;
  }

  /** Starts the binary with -W on `configuration` (a TOML text) and waits for its 2 workers. */
  async function startWorkers(configuration: string): Promise<{ master: MasterProcess; file: string }> {
    const file = join(directory, "proxy.toml");
    writeFileSync(file, configuration);
    const master = new MasterProcess(["-W", "-f", file], {}, { command: sea() });
    try {
      await master.waitFor(/Master \(pid \d+\): 2 workers ready/);
    } catch (error) {
      await master.stop();
      throw error;
    }
    return { master, file };
  }

  function workersConfig(port: number, origin: string): string {
    return `[global]\nworkers = 2\n\n[frontends.main]\nbind = "127.0.0.1:${port}"\nmode = "tcp"\ndefault-backend = "app"\n\n` +
      `[backends.app]\nmode = "tcp"\nservers = [{ name = "w", address = "${origin}" }]\n`;
  }

  test("version: a compiled Node executable", SEA_TIMEOUT, () => {
    const result = spawnSync(sea(), ["version"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /^runtime: node 24\.\d+\.\d+ \(compiled executable\)$/m);
  });

  test("quick start in tcp mode with two origins: round robin A, B, A, B; SIGUSR1 stops it with 0", SEA_TIMEOUT, async () => {
    const a = await startOrigin((socket) => socket.end("A"));
    const b = await startOrigin((socket) => socket.end("B"));
    let proxy: CliProcess | undefined;
    try {
      proxy = new CliProcess([
        "--bind",
        "127.0.0.1:0",
        "--backend",
        `${a.address},${b.address}`,
        "--mode",
        "tcp",
      ], { command: sea() });
      const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const answers: string[] = [];
      for (let i = 0; i < 4; i++) answers.push((await exchange(port, "", false)).toString());
      assert.deepEqual(answers, ["A", "B", "A", "B"]);
      proxy.sendSignal("SIGUSR1");
      assert.equal(await proxy.waitExit(10_000), 0);
    } finally {
      await proxy?.stop();
      await a.close();
      await b.close();
    }
  });

  test("-W: two workers started from the binary alone, jailed; they serve and SIGTERM stops everything", SEA_TIMEOUT, async () => {
    const origin = await startOrigin((socket) => socket.end("W"));
    const port = await deadPort();
    let master: MasterProcess | undefined;
    try {
      const started = await startWorkers(workersConfig(port, origin.address));
      master = started.master;
      const workers = [...master.stderr.matchAll(/Worker (\d) \(pid (\d+)\) ready/g)].map((match) =>
        Number(match[2])
      );
      assert.equal(workers.length, 2, master.stderr);
      for (const pid of workers) {
        // No entry script, no Node flags but the jail: the SEA's process.argv[1] is not a script.
        assert.deepEqual(
          readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((part) => part !== ""),
          [binary, "--node-options=--permission", "__worker"],
        );
        const quoted = started.file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        await master.waitFor(
          new RegExp(
            `\\(pid ${pid}\\): File system closed: reading "${quoted}" was denied \\(node-permission-model\\)`,
          ),
        );
      }
      for (let i = 0; i < 4; i++) assert.equal((await exchange(port, "", false)).toString(), "W");
      process.kill(master.child.pid!, "SIGTERM");
      assert.equal(await master.waitAllGone(), 0);
      assert.match(master.stderr, /SIGTERM received: stopping 2 workers now/);
    } finally {
      await master?.stop();
      await origin.close();
    }
  });

  test("-W: SIGUSR1 at the master, the jailed workers finish and everything exits with 0", SEA_TIMEOUT, async () => {
    const origin = await startOrigin((socket) => socket.end("W"));
    const port = await deadPort();
    let master: MasterProcess | undefined;
    try {
      master = (await startWorkers(workersConfig(port, origin.address))).master;
      assert.equal((await exchange(port, "", false)).toString(), "W");
      process.kill(master.child.pid!, "SIGUSR1");
      await master.waitFor(/SIGUSR1 received: 2 workers finish their sessions/);
      assert.equal(await master.waitAllGone(), 0);
    } finally {
      await master?.stop();
      await origin.close();
    }
  });
});
