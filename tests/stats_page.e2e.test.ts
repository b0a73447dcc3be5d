/**
 * The stats page as a browser shows it: Debian's Chromium, headless, loads the page from a running
 * proxy (a frontend, a backend with a server up, one down by its check, one in maintenance), the
 * DOM it renders is checked for a row per object with its state's class, and a screenshot at a
 * desktop and at a phone width is written to test-output/ for a person to look at.
 *
 * Chromium is not an npm package: `.ci/run` installs Debian's and sets PROXY_TEST_REQUIRE_CHROMIUM,
 * so there a missing browser fails the test; elsewhere it is skipped with the reason.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CliProcess, deadPort, ROOT } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";

const CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
const chromium = process.env.CHROMIUM ?? CHROMIUM_CANDIDATES.find((path) => existsSync(path));
const required = process.env.PROXY_TEST_REQUIRE_CHROMIUM === "1";
const skip = chromium === undefined && !required ? "Chromium is not installed (apt-get install chromium; .ci/run does)" : false;

/** Where the screenshots go (ignored by git). */
const OUTPUT = join(ROOT, "test-output");

/** Runs headless Chromium with `args` on `url`; resolves with its stdout. */
function runChromium(args: readonly string[], url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    const child = spawn(chromium!, ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", ...args, url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`Chromium exited with ${code}:\n${stderr}`));
    });
  });
}

test("stats page: Chromium renders a row per frontend, backend and server, coloured by state; screenshots in test-output/", { skip }, async () => {
  assert.ok(chromium !== undefined, "PROXY_TEST_REQUIRE_CHROMIUM is set but no Chromium was found");
  const origin = await httpOrigin((_req, res) => res.end("ok"));
  const dead = await deadPort();
  const file = configFile(`
[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"
stats-uri = "/stats"

[backends.app]
servers = [
  { name = "alive", address = "${origin.address}" },
  { name = "gone", address = "127.0.0.1:${dead}", check = { interval = "100ms", fall = 1, rise = 1 } },
  { name = "parked", address = "${origin.address}", disabled = true },
]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const url = `http://127.0.0.1:${port}/stats;norefresh`;
    // The checked server on a dead port is down after its first check: wait for the page to say so.
    let dom = "";
    const deadline = Date.now() + 30_000;
    do {
      dom = await runChromium(["--dump-dom"], url);
    } while (!/gone[\s\S]*?DOWN/.test(dom) && Date.now() < deadline);
    // A table per proxy, headed by its kind and name; a row per server, and the proxy's own row.
    assert.match(dom, /frontend<\/span> web </);
    assert.match(dom, /backend<\/span> app </);
    assert.match(dom, /<tr class="frontend">/);
    assert.match(dom, /<tr class="backend">/);
    const rowOf = (name: string) => {
      const row = dom.split("<tr").find((candidate) => new RegExp(`<th class="name"[^>]*>${name}</th>`).test(candidate));
      assert.ok(row, `row of ${name}`);
      return row;
    };
    assert.match(rowOf("gone"), /DOWN/);
    assert.match(rowOf("parked"), /MAINT/);
    assert.notEqual(rowOf("gone").match(/class="([^"]*)"/)?.[1], rowOf("alive").match(/class="([^"]*)"/)?.[1], "down and up rows look different");
    mkdirSync(OUTPUT, { recursive: true });
    for (const [name, size] of [["stats-page-desktop.png", "1400,900"], ["stats-page-phone.png", "390,844"]] as const) {
      const path = join(OUTPUT, name);
      await runChromium([`--screenshot=${path}`, `--window-size=${size}`], url);
      assert.ok(statSync(path).size > 10_000, `${name} holds a rendered page`);
    }
  } finally {
    await proxy.stop();
    file.remove();
    await origin.close();
  }
});
