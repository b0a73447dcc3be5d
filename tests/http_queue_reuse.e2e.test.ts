/**
 * A queued request whose slot comes with an idle server connection from the pool: the request
 * head must leave at once on that connection (a bug once kept it until `timeout server`, 504).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { CliProcess } from "./_cli_helpers.ts";
import { configFile, getRequest, httpOrigin, rawRequest } from "./_http_helpers.ts";

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const { status, body } = await rawRequest(port, getRequest(path));
  return { status, body };
}

test("a queued request granted a slot with a pooled connection sends its head at once", async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let slowArrived: () => void = () => {};
  const arrived = new Promise<void>((resolve) => (slowArrived = resolve));
  const origin = await httpOrigin((req, res) => {
    if (req.url === "/slow") {
      slowArrived();
      void held.then(() => res.end("slow"));
      return;
    }
    res.end(`fast ${req.url}`);
  });
  // timeout server bounds the bug's hang: a head never sent ends as a 504 instead of a 200.
  const file = configFile(`
[frontends.web]
mode = "http"
bind = "127.0.0.1:0"
default-backend = "app"

[frontends.stats]
mode = "http"
bind = "127.0.0.1:0"
stats-uri = "/stats"

[backends.app]
mode = "http"
http-reuse = "always"
timeout = { server = "5s" }
servers = [{ name = "a", address = "${origin.address}", maxconn = 1 }]
`);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const port = Number((await proxy.waitFor(/Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    const statsPort = Number((await proxy.waitFor(/Frontend "stats" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
    // Leaves an idle connection to the server in the pool.
    assert.deepEqual(await get(port, "/warm"), { status: 200, body: "fast /warm" });
    const slow = get(port, "/slow");
    await arrived;
    // The only slot is taken: this one waits in the queue, then gets the slot and a pooled connection.
    const queued = get(port, "/queued");
    // The slot frees only once the queued request waits for it (the stats say so).
    const deadline = Date.now() + 20_000;
    for (;;) {
      const stats = JSON.parse((await get(statsPort, "/stats;json")).body) as { backends: Array<{ queueCurrent: number }> };
      if (stats.backends[0]!.queueCurrent === 1) break;
      assert.ok(Date.now() < deadline, "the second request never queued");
    }
    release();
    assert.deepEqual(await slow, { status: 200, body: "slow" });
    assert.deepEqual(await queued, { status: 200, body: "fast /queued" });
  } finally {
    release();
    await proxy.stop();
    file.remove();
    await origin.close();
  }
});
