/**
 * The seed's topology, end to end with two processes of ours: a TLS-terminating proxy in tcp mode
 * (the SSL farm) sends PROXY v2 to an http-mode balancer with `accept-proxy`, which balances over
 * two origins. The origins see the real client's address in X-Forwarded-For, the balancer's log
 * names it, and it routes by the header's TLVs (the authority: the SNI name the client sent).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CliProcess, ROOT, sleep } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";

const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const CA = readFileSync(join(FIXTURES, "ca.pem"), "utf8");
const CLIENT_ADDRESS = "127.0.0.2";

async function start(name: string, mode: string, text: string): Promise<{ proxy: CliProcess; port: number; remove: () => void }> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const match = await proxy.waitFor(new RegExp(`Frontend "${name}" \\(${mode}\\) listening on 127\\.0\\.0\\.1:(\\d+)`));
    return { proxy, port: Number(match[1]), remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** One HTTPS request from a client; its local port (to find it in the logs) and the body. */
function httpsRequest(port: number): Promise<{ clientPort: number; body: string }> {
  return new Promise((resolve, reject) => {
    // From 127.0.0.2 (loopback too, on Linux): unlike the farm's own 127.0.0.1, it shows whose
    // address the balancer and the origins see.
    const raw = net.connect({ host: "127.0.0.1", port, localAddress: CLIENT_ADDRESS });
    raw.on("error", () => {});
    const socket = tls.connect({ socket: raw, ca: CA, servername: "default.test" });
    let received = "";
    let clientPort = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No answer within 20 s; got ${JSON.stringify(received)}`));
    }, 20_000);
    socket.on("secureConnect", () => {
      clientPort = raw.localPort!;
      socket.write("GET /who HTTP/1.1\r\nHost: shop.test\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ clientPort, body: received.slice(received.indexOf("\r\n\r\n") + 4) });
    });
  });
}

test("TLS farm in tcp mode -> PROXY v2 -> http balancer with accept-proxy -> two origins: the real client everywhere", async () => {
  const seen: string[] = [];
  const answer = (name: string) => (request: { headers: Record<string, string | string[] | undefined> }, response: { end: (body: string) => void }) => {
    seen.push(`${name} ${request.headers["x-forwarded-for"]}`);
    response.end(`${name} xff=${request.headers["x-forwarded-for"]}`);
  };
  const [one, two, fallback] = await Promise.all([httpOrigin(answer("one")), httpOrigin(answer("two")), httpOrigin(answer("fallback"))]);
  let balancer: Awaited<ReturnType<typeof start>> | undefined;
  let farm: Awaited<ReturnType<typeof start>> | undefined;
  try {
    balancer = await start("balancer", "http", `
[frontends.balancer]
mode = "http"
bind = { address = "127.0.0.1:0", accept-proxy = true }
# The farm's clients asked for default.test (the header's authority): they go to app.
default-backend = "fallback"
routes = [{ pp-authority = "default.test", backend = "app" }]
forwardfor = true
log = "stdout"
log-format = "%ci:%cp %b/%s %ST %[fc_pp_authority]"

[backends.app]
mode = "http"
balance = "roundrobin"
servers = [{ name = "one", address = "${one.address}" }, { name = "two", address = "${two.address}" }]

[backends.fallback]
mode = "http"
servers = [{ name = "f", address = "${fallback.address}" }]
`);
    farm = await start("tls", "tcp", `
[frontends.tls]
mode = "tcp"
bind = { address = "127.0.0.1:0", crt = "${join(FIXTURES, "default.pem")}" }
default-backend = "balancers"

[backends.balancers]
mode = "tcp"
servers = [{ name = "b1", address = "127.0.0.1:${balancer.port}", send-proxy-v2 = true }]
`);
    const first = await httpsRequest(farm.port);
    const second = await httpsRequest(farm.port);
    assert.deepEqual([first.body, second.body].sort(), [`one xff=${CLIENT_ADDRESS}`, `two xff=${CLIENT_ADDRESS}`], "both origins, each seeing the client");
    // The balancer's log names the client's own port (not the farm's connection) and the SNI name.
    for (const { clientPort } of [first, second]) {
      const line = new RegExp(`^127\\.0\\.0\\.2:${clientPort} app/(one|two) 200 default\\.test$`, "m");
      const deadline = Date.now() + 20_000;
      while (!line.test(balancer.proxy.stdout)) {
        if (Date.now() > deadline) assert.fail(`No log line for client port ${clientPort}:\n${balancer.proxy.stdout}`);
        await sleep(20);
      }
    }
    assert.equal(seen.length, 2);
  } finally {
    await farm?.proxy.stop();
    farm?.remove();
    await balancer?.proxy.stop();
    balancer?.remove();
    await Promise.all([one.close(), two.close(), fallback.close()]);
  }
});
