/**
 * What the TLS rows need on the client side: the benchmark's certificate, and a wrk that really
 * does one full handshake per request when asked for `Connection: close`.
 *
 * wrk 4.1 closes a connection with `SSL_shutdown` and `SSL_clear`, and OpenSSL keeps the session of
 * a cleanly shut connection for the next `SSL_connect` on the same `SSL` object: wrk offers it, and
 * a server that issued a ticket resumes. Against node:tls about half of wrk's handshakes were
 * resumed (a resumed session yields no ticket to offer next time, so they alternate). To measure
 * full handshakes, wrk runs with a small preloaded shim that drops the kept session before each
 * new handshake; `checkFullHandshakes` proves it on every run against a node:tls server that counts.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:tls";
import type { TLSSocket } from "node:tls";
import type { ProcessRegistry } from "./processes.ts";
import { hasCommand } from "./processes.ts";
import { runWrk } from "./wrk.ts";

/**
 * The certificate every contender serves in https mode: ECDSA P-256 with its key in the same PEM
 * (what HAProxy's `crt`, nginx and our `--cert` all take), issued to default.test, localhost and
 * 127.0.0.1 until 2126. Committed for the tests; no openssl needed at run time.
 */
export const BENCH_CERTIFICATE = "tests/fixtures/tls/default.pem";

/**
 * `SSL_connect` that forgets the session kept from the connection before, on the first call of a
 * handshake only (wrk calls it again while the handshake is under way). Every symbol is looked up
 * at run time, so it builds with a bare C compiler, without OpenSSL's headers.
 */
export const FULL_HANDSHAKE_SHIM_SOURCE = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
typedef int (*connect_fn)(void *);
typedef int (*in_before_fn)(const void *);
typedef int (*set_session_fn)(void *, void *);
int SSL_connect(void *ssl) {
  static connect_fn real_connect;
  static in_before_fn in_before;
  static set_session_fn set_session;
  if (real_connect == NULL) {
    real_connect = (connect_fn)dlsym(RTLD_NEXT, "SSL_connect");
    in_before = (in_before_fn)dlsym(RTLD_NEXT, "SSL_in_before");
    set_session = (set_session_fn)dlsym(RTLD_NEXT, "SSL_set_session");
  }
  if (in_before(ssl)) set_session(ssl, NULL);
  return real_connect(ssl);
}
`;

/** Builds the shim into `directory`; a reason instead when there is no C compiler or it fails. */
export function buildFullHandshakeShim(directory: string): { path: string } | { unavailable: string } {
  const compiler = ["cc", "gcc", "clang"].find(hasCommand);
  if (compiler === undefined) return { unavailable: "no C compiler (apt-get install -y gcc)" };
  const source = join(directory, "full_handshake.c");
  const path = join(directory, "full_handshake.so");
  writeFileSync(source, FULL_HANDSHAKE_SHIM_SOURCE);
  const result = spawnSync(compiler, ["-shared", "-fPIC", "-O2", "-o", path, source, "-ldl"], { encoding: "utf8" });
  if (result.status !== 0) {
    return { unavailable: `${compiler} failed: ${(result.stderr ?? "").trim().split("\n")[0] ?? ""}` };
  }
  return { path };
}

/** Handshakes a counting server saw during one wrk run. */
export type HandshakeCount = { full: number; resumed: number; requests: number };

/** The share of handshakes that were resumed, as "0 of 1,234 resumed" or "612 of 1,230 resumed (50%)". */
export function describeResumption(count: HandshakeCount): string {
  const total = count.full + count.resumed;
  const share = total === 0 ? "" : ` (${Math.round((count.resumed / total) * 100)}%)`;
  return `${count.resumed.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} handshakes resumed${
    count.resumed > 0 ? share : ""
  }`;
}

/**
 * Runs wrk for a second with `Connection: close` against a node:tls server in this process that
 * answers each request and counts full and resumed handshakes (node:tls issues session tickets,
 * as every contender does by default).
 */
export async function checkFullHandshakes(
  registry: ProcessRegistry,
  certificatePath: string,
  preloadPath: string | null,
  cpuList: string | null,
): Promise<HandshakeCount> {
  const pem = readFileSync(certificatePath, "utf8");
  const count: HandshakeCount = { full: 0, resumed: 0, requests: 0 };
  const server = createServer({ cert: pem, key: pem }, (socket: TLSSocket) => {
    if (socket.isSessionReused()) count.resumed++;
    else count.full++;
    socket.on("error", () => {});
    socket.once("data", () => {
      count.requests++;
      socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  try {
    if (typeof address !== "object" || address === null) throw new Error("The counting server has no port");
    await runWrk(registry, {
      port: address.port,
      path: "/",
      tls: true,
      closeEachConnection: true,
      preloadPath,
      durationSeconds: 1,
      connections: 4,
      cpuList,
      builtinRuntimePath: null,
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return count;
}
