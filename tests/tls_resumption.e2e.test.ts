/**
 * TLS session resumption under -W: the master hands every worker of every generation the same
 * session ticket keys, so a client resumes its session whichever worker takes its connection, and
 * after a reload. Node honours the keys; Bun keeps its own per process and Deno resumes no session
 * (docs/config.md, bind with TLS): there the test says so and skips.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";
import { freePort, MasterProcess } from "./_process_helpers.ts";
import { detectRuntimeName } from "../src/runtime/detect.ts";

const RUNTIME = detectRuntimeName();
const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const CA = readFileSync(join(FIXTURES, "ca.pem"), "utf8");

/** One HTTPS request offering `session`; whether it was resumed, and the session to offer next. */
function request(port: number, session: Buffer | undefined): Promise<{ resumed: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let next = session;
    let resumed = false;
    const socket = tls.connect({ host: "127.0.0.1", port, ca: CA, servername: "default.test", session });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("No answer within 20 s"));
    }, 20_000);
    socket.on("session", (ticket: Buffer) => (next = ticket));
    socket.on("secureConnect", () => {
      // Asked now: once the socket is closed, node:tls has nothing to say.
      resumed = socket.isSessionReused();
      socket.write("GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", () => {});
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ resumed, session: next });
    });
  });
}

test(
  "-W: a session resumes on every worker and after a reload (shared ticket keys)",
  { skip: RUNTIME === "node" ? false : `${RUNTIME} does not take ticket keys from the proxy (see docs/config.md)` },
  async () => {
    const origin = await httpOrigin((_request, response) => response.end("ok"));
    const port = await freePort();
    const file = configFile(`
[global]
workers = 2

[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:${port}", crt = "${join(FIXTURES, "default.pem")}" }
default-backend = "app"

[backends.app]
mode = "http"
servers = [{ name = "a", address = "${origin.address}" }]
`);
    const master = new MasterProcess(["-W", "-f", file.path]);
    try {
      await master.waitFor(/2 workers ready/);
      let { session } = await request(port, undefined);
      // 20 new connections spread over both workers by the kernel: each resumes.
      for (let i = 0; i < 20; i++) {
        const next = await request(port, session);
        assert.equal(next.resumed, true, `connection ${i + 1} made a full handshake`);
        session = next.session;
      }
      const mark = master.stderr.length;
      master.signalMaster("SIGUSR2");
      await master.waitFor(/Reload done: 2 workers of generation 2 ready/, mark);
      const afterReload = await request(port, session);
      assert.equal(afterReload.resumed, true, "a session of the old workers resumes on the new ones");
    } finally {
      await master.stop();
      file.remove();
      await origin.close();
    }
  },
);
