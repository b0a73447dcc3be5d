/**
 * PROXY protocol interoperability with HAProxy (issue 19), where HAProxy is installed: not a test,
 * since the suite must not need HAProxy.
 *
 * 1. Our send-proxy-v2-ssl-cn (http mode, a TLS client with a certificate) and send-proxy (v1, tcp
 *    mode) into HAProxy's `accept-proxy`: HAProxy's log lines are printed, with the client address
 *    and the PROXY authority it read, and compared with what the client used.
 * 2. HAProxy's send-proxy-v2 into our `accept-proxy`: needs accept-proxy on our binds (the
 *    receiving half of issue 19). If our configuration refuses the key, this direction is skipped
 *    with a message; once it is accepted, it runs and prints our log line.
 *
 * Run with Node 24 (it strips the types): `node_modules/.bin/node scripts/proxy_protocol_interop.ts`
 * (`HAPROXY=/path/to/haproxy` to pick the binary; `--runtime bun|deno` runs our proxy there).
 * Every process it starts is stopped.
 *
 * @module
 */

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as tls from "node:tls";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigSources } from "../src/config/load.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const FIXTURES = join(ROOT, "tests", "fixtures", "tls");
const TIMEOUT_MS = 20_000;

const children: ChildProcess[] = [];
let directory = "";

function haproxyBinary(): string | null {
  const candidates = [process.env.HAPROXY, "/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"];
  for (const candidate of candidates) if (candidate !== undefined && candidate !== "" && existsSync(candidate)) return candidate;
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolvePort(port));
    });
  });
}

/** Starts a process and collects its output; resolves once `ready` shows in it (null: at once). */
function start(command: string, args: string[], ready: RegExp | null): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((resolveStart, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    if (ready === null) resolveStart({ child, output: () => output });
    const timer = ready === null ? undefined : setTimeout(() => reject(new Error(`${command} did not start within ${TIMEOUT_MS} ms:\n${output}`)), TIMEOUT_MS);
    const take = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready !== null && ready.test(output)) {
        clearTimeout(timer);
        resolveStart({ child, output: () => output });
      }
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

function ourProxy(configPath: string): Promise<{ child: ChildProcess; output: () => string }> {
  const runtimeIndex = process.argv.indexOf("--runtime");
  const runtime = runtimeIndex > 0 ? process.argv[runtimeIndex + 1] : "node";
  const bin = join(ROOT, "node_modules", ".bin", runtime ?? "node");
  const args = runtime === "deno" ? ["run", "-A", "src/main.ts", "-f", configPath] : runtime === "bun" ? ["src/main.ts", "-f", configPath] : ["src/main.ts", "-f", configPath];
  return start(bin, args, /listening on[\s\S]*listening on/);
}

/** Resolves once something accepts connections on the port (HAProxy in -db prints nothing when ready). */
async function waitListening(port: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    const open = await new Promise<boolean>((done) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        done(true);
      });
      socket.on("error", () => done(false));
    });
    if (open) return;
    if (Date.now() - started > TIMEOUT_MS) throw new Error(`Nothing listens on 127.0.0.1:${port} after ${TIMEOUT_MS} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

function waitFor(output: () => string, pattern: RegExp): Promise<RegExpMatchArray> {
  const started = Date.now();
  return new Promise((resolveWait, reject) => {
    const poll = () => {
      const match = pattern.exec(output());
      if (match !== null) return resolveWait(match);
      if (Date.now() - started > TIMEOUT_MS) return reject(new Error(`Not seen within ${TIMEOUT_MS} ms: ${pattern}\n${output()}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}

/** One GET over TLS with the test client certificate; resolves with the status line and the client's port. */
function tlsGet(port: number): Promise<{ status: string; localPort: number }> {
  return new Promise((resolveGet, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      ca: readFileSync(join(FIXTURES, "ca.pem")),
      servername: "default.test",
      cert: readFileSync(join(FIXTURES, "client.crt")),
      key: readFileSync(join(FIXTURES, "client.key")),
      ALPNProtocols: ["http/1.1"],
    });
    let localPort = 0;
    let answer = "";
    socket.on("secureConnect", () => {
      localPort = socket.localPort!;
      socket.write("GET /interop HTTP/1.1\r\nHost: interop\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolveGet({ status: answer.split("\r\n")[0] ?? "", localPort }));
  });
}

/** A plain tcp exchange: sends a GET, resolves with the status line and the client's port. */
function plainGet(port: number): Promise<{ status: string; localPort: number }> {
  return new Promise((resolveGet, reject) => {
    let localPort = 0;
    let answer = "";
    const socket = net.connect(port, "127.0.0.1", () => {
      localPort = socket.localPort!;
      socket.write("GET /interop HTTP/1.1\r\nHost: interop\r\nConnection: close\r\n\r\n");
    });
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolveGet({ status: answer.split("\r\n")[0] ?? "", localPort }));
  });
}

async function ourSendIntoHaproxy(haproxy: string, originPort: number): Promise<boolean> {
  console.log("\n== our send-proxy into HAProxy's accept-proxy ==");
  const [v2Port, v1Port] = [await freePort(), await freePort()];
  const haproxyConfig = join(directory, "haproxy.cfg");
  writeFileSync(haproxyConfig, `global
  log stdout format raw local0
defaults
  mode http
  log global
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend from_ours_v2
  bind 127.0.0.1:${v2Port} accept-proxy
  log-format "v2 client=%ci:%cp frontend=%fi:%fp authority=%[fc_pp_authority] status=%ST %r"
  default_backend origin
frontend from_ours_v1
  mode tcp
  bind 127.0.0.1:${v1Port} accept-proxy
  log-format "v1 client=%ci:%cp frontend=%fi:%fp bytes=%B"
  default_backend origin_tcp
backend origin
  server o 127.0.0.1:${originPort}
backend origin_tcp
  mode tcp
  server o 127.0.0.1:${originPort}
`);
  const ha = await start(haproxy, ["-db", "-f", haproxyConfig], null);
  await waitListening(v2Port);
  const ourConfig = join(directory, "ours.toml");
  writeFileSync(ourConfig, `
[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:0", crt = ${JSON.stringify(join(FIXTURES, "default.pem"))}, verify = "optional", ca-file = ${JSON.stringify(join(FIXTURES, "ca.pem"))}, alpn = ["http/1.1"] }
default-backend = "haproxy_v2"

[frontends.tcp]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "haproxy_v1"

[backends.haproxy_v2]
mode = "http"
send-proxy-v2-ssl-cn = true
servers = [{ name = "haproxy", address = "127.0.0.1:${v2Port}" }]

[backends.haproxy_v1]
mode = "tcp"
send-proxy = true
servers = [{ name = "haproxy", address = "127.0.0.1:${v1Port}" }]
`);
  const ours = await ourProxy(ourConfig);
  const webPort = Number((await waitFor(ours.output, /Frontend "web" \(http\) listening on 127\.0\.0\.1:(\d+)/))[1]);
  const tcpPort = Number((await waitFor(ours.output, /Frontend "tcp" \(tcp\) listening on 127\.0\.0\.1:(\d+)/))[1]);
  const v2 = await tlsGet(webPort);
  const v1 = await plainGet(tcpPort);
  const v2Line = (await waitFor(ha.output, /^v2 client=.*$/m))[0];
  const v1Line = (await waitFor(ha.output, /^v1 client=.*$/m))[0];
  console.log(`TLS client 127.0.0.1:${v2.localPort} -> our 127.0.0.1:${webPort}: ${v2.status}`);
  console.log(`HAProxy logged: ${v2Line}`);
  console.log(`plain client 127.0.0.1:${v1.localPort} -> our 127.0.0.1:${tcpPort}: ${v1.status}`);
  console.log(`HAProxy logged: ${v1Line}`);
  const v2Ok = v2Line.includes(`client=127.0.0.1:${v2.localPort} frontend=127.0.0.1:${webPort} authority=default.test`);
  const v1Ok = v1Line.includes(`client=127.0.0.1:${v1.localPort} frontend=127.0.0.1:${tcpPort}`);
  console.log(v2Ok ? "v2: HAProxy saw our client's address and SNI: OK" : "v2: MISMATCH");
  console.log(v1Ok ? "v1: HAProxy saw our client's address: OK" : "v1: MISMATCH");
  ours.child.kill("SIGTERM");
  ha.child.kill("SIGTERM");
  return v2Ok && v1Ok;
}

async function haproxySendIntoOurs(haproxy: string, originPort: number): Promise<boolean | null> {
  console.log("\n== HAProxy's send-proxy-v2 into our accept-proxy ==");
  const ourPort = await freePort();
  const ourText = `
[global]
log = "stdout"

[frontends.web]
mode = "http"
bind = { address = "127.0.0.1:${ourPort}", accept-proxy = true }
log = "global"
log-format = "ours client=%ci:%cp %ST %r"
default-backend = "origin"

[backends.origin]
mode = "http"
servers = [{ name = "o", address = "127.0.0.1:${originPort}" }]
`;
  try {
    loadConfigSources([{ name: "ours.toml", text: ourText }]);
  } catch (error) {
    console.log(`Skipped: our configuration does not take accept-proxy yet (${(error as Error).message.split("\n").slice(0, 3).join(" ")}).`);
    console.log("Once the accept-proxy half of issue 19 has landed, run this script again: this direction then runs.");
    return null;
  }
  const ourConfig = join(directory, "ours_accept.toml");
  writeFileSync(ourConfig, ourText);
  const ours = await start(join(ROOT, "node_modules", ".bin", "node"), ["src/main.ts", "-f", ourConfig], /listening on/);
  const haPort = await freePort();
  const haproxyConfig = join(directory, "haproxy_send.cfg");
  writeFileSync(haproxyConfig, `defaults
  mode http
  timeout connect 5s
  timeout client 10s
  timeout server 10s
frontend clients
  bind 127.0.0.1:${haPort}
  default_backend ours
backend ours
  server ours 127.0.0.1:${ourPort} send-proxy-v2
`);
  await start(haproxy, ["-db", "-f", haproxyConfig], null);
  await waitListening(haPort);
  const client = await plainGet(haPort);
  const line = (await waitFor(ours.output, /ours client=.*$/m))[0];
  console.log(`plain client 127.0.0.1:${client.localPort} -> HAProxy 127.0.0.1:${haPort}: ${client.status}`);
  console.log(`we logged: ${line}`);
  const ok = line.includes(`client=127.0.0.1:${client.localPort}`);
  console.log(ok ? "we saw HAProxy's client's address: OK" : "MISMATCH");
  return ok;
}

async function main(): Promise<number> {
  const haproxy = haproxyBinary();
  if (haproxy === null) {
    console.log("HAProxy is not installed (set HAPROXY=/path/to/haproxy): nothing to compare with.");
    return 0;
  }
  directory = mkdtempSync(join(tmpdir(), "proxy-interop-"));
  const origin = http.createServer((_request, response) => response.end("origin\n"));
  await new Promise<void>((done) => origin.listen(0, "127.0.0.1", done));
  const originPort = (origin.address() as net.AddressInfo).port;
  try {
    const sent = await ourSendIntoHaproxy(haproxy, originPort);
    const received = await haproxySendIntoOurs(haproxy, originPort);
    return sent && received !== false ? 0 : 1;
  } finally {
    origin.close();
    origin.closeAllConnections();
  }
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  if (directory !== "") rmSync(directory, { recursive: true, force: true });
}
process.exit(exitCode);
