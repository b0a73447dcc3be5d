/**
 * The JavaScript bundle Node runs in production (`scripts/build/node_bundle.ts`), built from
 * src/main.ts into a temporary directory and run with the pinned Node: it is ASCII only, serves the
 * quick start, and loads node:tls when a bind asks for TLS (the bundle loads it on first use only).
 * The build runs node_modules/.bin tools as subprocesses, so the file runs under every test runner.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliProcess, exchange, ROOT, startOrigin } from "./_cli_helpers.ts";
import { asciiOnly, bundleForNode } from "../scripts/build/node_bundle.ts";

const NODE = join(ROOT, "node_modules", ".bin", "node");
const TLS_FIXTURE = join(ROOT, "tests", "fixtures", "tls", "default.pem");
/** Bundling takes 1 to 10 s on a busy 2-core machine; the bound guards against a hang. */
const BUILD_TIMEOUT = { timeout: 120_000 };

test("asciiOnly: characters past ASCII become escapes that mean the same in string, template and regular-expression literals", () => {
  const source = 'const a = "…ℹ"; const b = `x ${a} ┌─┐`; const c = /[─│]/;\nresult = [a, b, c.test("│"), "😀"];';
  const escaped = asciiOnly(source);
  assert.match(escaped, /^[\x00-\x7f]*$/);
  assert.ok(escaped.includes("\\u2026"));
  const run = (text: string): unknown => new Function(`let result; ${text}; return result;`)();
  assert.deepEqual(run(escaped), run(source));
  assert.deepEqual(run(escaped), ["…ℹ", "x …ℹ ┌─┐", true, "😀"]);
});

describe("Node bundle", () => {
  const directory = mkdtempSync(join(tmpdir(), "proxy-node-bundle-"));
  const bundle = join(directory, "proxy.cjs");
  let built: Error | true | undefined;
  after(() => rmSync(directory, { recursive: true, force: true }));

  /** Builds the bundle once, for the first test that needs it; the others get the same file or error. */
  function bundled(): string {
    if (built === undefined) {
      try {
        bundleForNode({ root: ROOT, entry: join(ROOT, "src", "main.ts"), outfile: bundle, bun: join(ROOT, "node_modules", ".bin", "bun"), node: NODE });
        built = true;
      } catch (error) {
        built = error instanceof Error ? error : new Error(String(error));
      }
    }
    if (built !== true) throw built;
    return bundle;
  }

  test("one CommonJS file, ASCII only, that reports Node as its runtime", BUILD_TIMEOUT, () => {
    const text = readFileSync(bundled(), "utf8");
    assert.match(text, /^[\x00-\x7f]*$/);
    const result = spawnSync(NODE, [bundle, "version"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /^runtime: node 24\.\d+\.\d+/m);
  });

  test("quick start in http mode: round robin over two origins", BUILD_TIMEOUT, async () => {
    const answer = (body: string) => (socket: import("node:net").Socket) => {
      socket.once("data", () => socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`));
    };
    const a = await startOrigin(answer("A"));
    const b = await startOrigin(answer("B"));
    let proxy: CliProcess | undefined;
    try {
      proxy = new CliProcess(["--bind", "127.0.0.1:0", "--backend", `${a.address},${b.address}`, "--mode", "http"], {
        command: NODE,
        prefix: [bundled()],
      });
      const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const bodies: string[] = [];
      for (let i = 0; i < 2; i++) {
        const response = (await exchange(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toString();
        bodies.push(response.slice(response.indexOf("\r\n\r\n") + 4));
      }
      assert.deepEqual(bodies.sort(), ["A", "B"]);
    } finally {
      await proxy?.stop();
      await a.close();
      await b.close();
    }
  });

  test("a TLS bind works: node:tls is loaded when first needed", BUILD_TIMEOUT, async () => {
    const origin = await startOrigin((socket) => {
      socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"));
    });
    let proxy: CliProcess | undefined;
    try {
      proxy = new CliProcess(["--bind", "127.0.0.1:0", "--cert", TLS_FIXTURE, "--backend", origin.address, "--mode", "http"], {
        command: NODE,
        prefix: [bundled()],
      });
      const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
      const body = await new Promise<string>((resolve, reject) => {
        // The fixture is issued by the tests' own CA: what is checked is that TLS is served at all.
        const request = https.get({ host: "127.0.0.1", port, path: "/", rejectUnauthorized: false, agent: false }, (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => text += chunk);
          response.on("end", () => resolve(text));
          response.on("error", reject);
        });
        request.on("error", reject);
      });
      assert.equal(body, "ok");
    } finally {
      await proxy?.stop();
      await origin.close();
    }
  });
});
