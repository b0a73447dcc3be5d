/**
 * HTTPS through an executable: the quick start with `--cert` terminates TLS in front of an http
 * origin, and a client that verifies the certificate against the test CA
 * (tests/fixtures/tls/ca.pem) gets the origin's answers, twice on one connection (keep-alive).
 * The runtime embedded in the executable does the TLS, so this is the check that it can.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import * as tls from "node:tls";
import { fileURLToPath } from "node:url";
import { closeAll, httpOrigin, responseBody } from "./origins.ts";
import { startListening } from "./proxy_process.ts";
import type { Subject } from "./subject.ts";
import { timeouts } from "./subject.ts";

const FIXTURES = fileURLToPath(new URL("../../tests/fixtures/tls/", import.meta.url));
/** Requests sent on the one TLS connection. */
const REQUESTS = 2;

/** What one verified TLS connection carried: its protocol, cipher and response bodies. */
interface HttpsExchange {
  readonly protocol: string;
  readonly cipher: string;
  readonly bodies: string[];
}

/** Opens one TLS connection to `port` verified against `ca` for `servername`, sends `REQUESTS` GETs in turn. */
function httpsKeepAlive(port: number, ca: string, servername: string, timeoutMs: number): Promise<HttpsExchange> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, servername });
    const bodies: string[] = [];
    let received = "";
    let negotiated = { protocol: "?", cipher: "?" };
    const timer = setTimeout(() => socket.destroy(new Error(`No ${REQUESTS} answers within ${timeoutMs} ms; got ${JSON.stringify(received)}`)), timeoutMs);
    // The last request asks to close: the proxy's close ends the exchange.
    const send = () => socket.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\n${bodies.length === REQUESTS - 1 ? "Connection: close\r\n" : ""}\r\n`);
    socket.on("secureConnect", () => {
      negotiated = { protocol: socket.getProtocol() ?? "?", cipher: socket.getCipher()?.name ?? "?" };
      send();
    });
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const head = /^HTTP\/1\.1 \d{3}[^\r]*\r\n[\s\S]*?\r\n\r\n/.exec(received);
      const length = head === null ? undefined : /content-length: *(\d+)/i.exec(head[0])?.[1];
      if (head === null || length === undefined || received.length < head[0].length + Number(length)) return;
      const end = head[0].length + Number(length);
      bodies.push(responseBody(received.slice(0, end)));
      received = received.slice(end);
      if (bodies.length < REQUESTS) send();
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", () => {
      clearTimeout(timer);
      if (bodies.length === REQUESTS) resolve({ ...negotiated, bodies });
      else reject(new Error(`The connection closed after ${bodies.length} of ${REQUESTS} answers; then got ${JSON.stringify(received)}`));
    });
  });
}

/** `proxy --bind 127.0.0.1:0 --cert default.pem --backend ORIGIN`: HTTPS verified against the test CA, keep-alive. */
export async function quickStartHttps(subject: Subject): Promise<string> {
  const ca = readFileSync(`${FIXTURES}ca.pem`, "utf8");
  const origin = await httpOrigin("A");
  try {
    const args = ["--bind", "127.0.0.1:0", "--cert", `${FIXTURES}default.pem`, "--backend", origin.address, "--mode", "http"];
    const { proxy, port } = await startListening(subject.launcher, subject.binary, args, timeouts(subject).start);
    try {
      const exchange = await httpsKeepAlive(port, ca, "default.test", timeouts(subject).request);
      if (exchange.bodies.join(",") !== "A,A") throw new Error(`Expected answers A,A, got ${exchange.bodies.join(",")}`);
      if (origin.requests() !== REQUESTS) throw new Error(`The origin got ${origin.requests()} requests, expected ${REQUESTS}`);
      return `${exchange.protocol} ${exchange.cipher}, certificate verified against the test CA, ${REQUESTS} requests on one connection`;
    } finally {
      await proxy.stop();
    }
  } finally {
    await closeAll([origin]);
  }
}
