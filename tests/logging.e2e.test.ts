/**
 * Logging end to end: real requests through the CLI, lines received by syslog servers in the test
 * (UDP and TCP) and on the proxy's standard output, parsed header and payload field by field.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import { CliProcess, deadPort, startOrigin, waitUntil } from "./_cli_helpers.ts";
import { configFile, httpOrigin } from "./_http_helpers.ts";
import {
  parseHttplog,
  parseRfc3164,
  parseRfc5424,
  parseTcplog,
  TcpSyslogReceiver,
  UdpSyslogReceiver,
} from "./_syslog_helpers.ts";

const LOCAL0 = 16;
const LOCAL3 = 19;
const SEVERITY = { emerg: 0, alert: 1, err: 3, notice: 5, info: 6 };

/** Starts the CLI on `text` and returns the port of each frontend named in `frontends`. */
async function startWithConfig(text: string, frontends: readonly string[]): Promise<{
  proxy: CliProcess;
  ports: Record<string, number>;
  remove: () => void;
}> {
  const file = configFile(text);
  const proxy = new CliProcess(["-f", file.path]);
  try {
    const ports: Record<string, number> = {};
    for (const name of frontends) {
      const match = await proxy.waitFor(new RegExp(`Frontend "${name}" \\((?:http|tcp)\\) listening on 127\\.0\\.0\\.1:(\\d+)`));
      ports[name] = Number(match[1]);
    }
    return { proxy, ports, remove: file.remove };
  } catch (error) {
    await proxy.stop();
    file.remove();
    throw error;
  }
}

/** Sends raw bytes, collects the answer until the proxy closes; `localPort` is the client's port. */
function rawExchange(port: number, data: string, options: { end?: boolean; timeoutMs?: number } = {}): Promise<{
  response: Buffer;
  localPort: number;
}> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let localPort = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`No close within ${options.timeoutMs ?? 20_000} ms`));
    }, options.timeoutMs ?? 20_000);
    socket.on("connect", () => {
      localPort = socket.localPort!;
      if (data !== "") socket.write(data);
      if (options.end === true) socket.end();
    });
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ response: Buffer.concat(chunks), localPort });
    });
  });
}

/** One keep-alive GET through an http.Agent, resolving with its status. */
function get(port: number, path: string, agent: http.Agent | false = false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error("Request timed out")));
    req.on("error", reject);
  });
}

/** The payloads of RFC 5424 messages whose payload matches `pattern`. */
function payloads(messages: readonly string[], pattern: RegExp): string[] {
  return messages.map((message) => parseRfc5424(message).message).filter((message) => pattern.test(message));
}

test("httplog lines reach a UDP syslog server in RFC 5424 and stdout raw, field by field", async () => {
  const receiver = await UdpSyslogReceiver.start();
  const origin = await httpOrigin((req, res) => {
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(req.url === "/a?b=1" ? "hello world" : "second answer");
  });
  const config = `
[global]
log = [{ target = "udp://127.0.0.1:${receiver.port}", format = "rfc5424", facility = "local3", tag = "edge" }, "stdout"]

[defaults]
mode = "http"
log = "global"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "${origin.address}" }]
`;
  const { proxy, ports, remove } = await startWithConfig(config, ["web"]);
  try {
    const before = Date.now();
    const { response, localPort } = await rawExchange(
      ports.web!,
      "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    const text = response.toString("latin1");
    const secondStart = text.indexOf("HTTP/1.1 200", 1);
    assert.ok(secondStart > 0, `two responses expected, got ${text}`);
    const first = parseRfc5424(await receiver.waitFor(/"GET \/a\?b=1 HTTP\/1\.1"$/));
    const second = parseRfc5424(await receiver.waitFor(/"GET \/second HTTP\/1\.1"$/));
    for (const message of [first, second]) {
      assert.equal(message.facility, LOCAL3);
      assert.equal(message.severity, SEVERITY.info);
      assert.equal(message.hostname, os.hostname());
      assert.equal(message.appName, "edge");
      assert.equal(message.procId, String(proxy.pid));
      assert.ok(Math.abs(message.timestamp.getTime() - before) < 60_000, `timestamp ${message.timestamp.toISOString()}`);
    }
    const one = parseHttplog(first.message);
    const two = parseHttplog(second.message);
    for (const line of [one, two]) {
      assert.equal(line.clientIp, "127.0.0.1");
      assert.equal(line.clientPort, localPort);
      assert.equal(line.frontend, "web");
      assert.equal(line.backend, "app");
      assert.equal(line.server, "a");
      assert.equal(line.status, 200);
      assert.equal(line.Tw, 0);
      assert.ok(line.TR >= 0 && line.Tc >= 0 && line.Tr >= 0, first.message);
      assert.ok(line.Ta >= line.Tr, `Ta ${line.Ta} < Tr ${line.Tr}`);
      assert.equal(line.capturedRequestCookie, "-");
      assert.equal(line.capturedResponseCookie, "-");
      assert.equal(line.terminationState, "----");
      assert.ok(line.actconn >= 1);
      assert.equal(line.feconn, 1);
      assert.equal(line.beconn, 1);
      assert.equal(line.srvconn, 1);
      assert.equal(line.retries, "0");
      assert.equal(line.srvQueue, 0);
      assert.equal(line.backendQueue, 0);
    }
    assert.equal(one.request, "GET /a?b=1 HTTP/1.1");
    assert.equal(two.request, "GET /second HTTP/1.1");
    // %B counts every byte of each response as the client got it.
    assert.equal(one.bytes, secondStart);
    assert.equal(two.bytes, response.length - secondStart);
    // %tr: the request's date, to the millisecond, local time.
    const date = /^(\d\d)\/(\w{3})\/(\d{4}):(\d\d):(\d\d):(\d\d)\.(\d{3})$/.exec(one.date)!;
    const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const when = new Date(Number(date[3]), months.indexOf(date[2]!), Number(date[1]), Number(date[4]), Number(date[5]), Number(date[6]), Number(date[7]));
    assert.ok(Math.abs(when.getTime() - before) < 5_000, `request date ${one.date}`);
    // The stdout target gets the same lines, bare.
    await waitUntil(() => proxy.stdout.includes("/second"), "the second line on stdout");
    // Operator messages go there too ([global] targets get both), as with HAProxy's `log stdout`.
    const stdoutLines = proxy.stdout.trim().split("\n").filter((line) => line.includes(" web app/a "));
    assert.equal(stdoutLines.length, 2, proxy.stdout);
    assert.equal(stdoutLines[0], first.message);
    assert.equal(stdoutLines[1], second.message);
    // Operator messages go to the syslog target too, never access lines to stderr.
    await receiver.waitFor(/Frontend "web" \(http\) listening on/);
    assert.doesNotMatch(proxy.stderr, /GET \/a/);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
    await receiver.close();
  }
});

test("tcplog lines reach a UDP syslog server in RFC 3164, field by field", async () => {
  const receiver = await UdpSyslogReceiver.start();
  const origin = await startOrigin((socket) => {
    socket.on("data", (chunk: Buffer) => socket.write(chunk));
    socket.on("end", () => socket.end());
  });
  const config = `
[global]
log = [
  { target = "udp://127.0.0.1:${receiver.port}", hostname = "edge1" },
  { target = "udp://127.0.0.1:${receiver.port}", format = "rfc3164", tag = "strict" },
  { target = "udp://127.0.0.1:${receiver.port}", tag = "legacy" },
]

[frontends.tcp]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "echo"
log = "global"

[backends.echo]
mode = "tcp"
servers = [{ name = "e1", address = "127.0.0.1:${origin.port}" }]
`;
  const { proxy, ports, remove } = await startWithConfig(config, ["tcp"]);
  try {
    const { response, localPort } = await rawExchange(ports.tcp!, "ping!", { end: true });
    assert.equal(response.toString(), "ping!");
    const message = parseRfc3164(await receiver.waitFor(/ proxy\[\d+\]: .* tcp echo\//));
    assert.equal(message.facility, LOCAL0);
    assert.equal(message.severity, SEVERITY.info);
    assert.equal(message.hostname, "edge1");
    assert.equal(message.tag, "proxy");
    assert.equal(message.pid, proxy.pid);
    const line = parseTcplog(message.message);
    assert.equal(line.clientIp, "127.0.0.1");
    assert.equal(line.clientPort, localPort);
    assert.equal(line.frontend, "tcp");
    assert.equal(line.backend, "echo");
    assert.equal(line.server, "e1");
    assert.equal(line.Tw, 0);
    assert.ok(line.Tc >= 0 && line.Tt >= line.Tc, message.message);
    assert.equal(line.bytes, 5);
    assert.equal(line.terminationState, "--");
    assert.equal(line.feconn, 1);
    assert.equal(line.beconn, 1);
    assert.equal(line.srvconn, 1);
    assert.equal(line.retries, "0");
    assert.equal(line.srvQueue, 0);
    assert.equal(line.backendQueue, 0);
    // An explicit rfc3164 carries the machine's host name; HAProxy's default "local" header none.
    const strict = parseRfc3164(await receiver.waitFor(/ strict\[\d+\]: .* tcp echo\//));
    assert.equal(strict.hostname, os.hostname());
    assert.equal(strict.message, message.message);
    const legacy = parseRfc3164(await receiver.waitFor(/ legacy\[\d+\]: .* tcp echo\//));
    assert.equal(legacy.hostname, null);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
    await receiver.close();
  }
});

test("each termination state the proxy produces is logged with HAProxy's code", async () => {
  const receiver = await UdpSyslogReceiver.start();
  const slowAnswers: Array<() => void> = [];
  const origin = await httpOrigin((req, res) => {
    if (req.url === "/stream") {
      res.writeHead(200, { "Content-Length": "10000000" });
      const timer = setInterval(() => res.write(Buffer.alloc(1_000, 97)), 20);
      res.on("close", () => clearInterval(timer));
      return;
    }
    if (req.url === "/slow") {
      // Held until the test has seen the request queued behind it time out.
      slowAnswers.push(() => res.end("late"));
      return;
    }
    res.end("ok");
  });
  const stall = await startOrigin(() => {});
  const dead = await deadPort();
  const config = `
[global]
log = [{ target = "udp://127.0.0.1:${receiver.port}", format = "rfc5424" }]

[defaults]
mode = "http"
log = "global"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[frontends.quiet]
bind = "127.0.0.1:0"
default-backend = "app"
dontlognull = true

[frontends.slow]
bind = "127.0.0.1:0"
default-backend = "stall"

[frontends.down]
bind = "127.0.0.1:0"
default-backend = "dead"
log-separate-errors = true

[frontends.nosrv]
bind = "127.0.0.1:0"
default-backend = "off"

[frontends.queue]
bind = "127.0.0.1:0"
default-backend = "one"

[frontends.req]
bind = "127.0.0.1:0"
default-backend = "app"
timeout = { http-request = "300ms" }

[frontends.tcpdown]
mode = "tcp"
bind = "127.0.0.1:0"
default-backend = "tcpdead"

[backends.app]
servers = [{ name = "a", address = "${origin.address}" }]

[backends.tcpdead]
mode = "tcp"
retries = 0
servers = [{ name = "t", address = "127.0.0.1:${dead}" }]

[backends.stall]
timeout = { server = "300ms" }
servers = [{ name = "s", address = "127.0.0.1:${stall.port}" }]

[backends.dead]
retries = 1
redispatch = false
timeout = { connect = "500ms" }
servers = [{ name = "d", address = "127.0.0.1:${dead}" }]

[backends.off]
servers = [{ name = "x", address = "${origin.address}", disabled = true }]

[backends.one]
timeout = { queue = "300ms" }
servers = [{ name = "o", address = "${origin.address}", maxconn = 1 }]
`;
  const frontends = ["web", "quiet", "slow", "down", "nosrv", "queue", "req", "tcpdown"];
  const { proxy, ports, remove } = await startWithConfig(config, frontends);
  const line = async (pattern: RegExp, from = 0) => parseHttplog(parseRfc5424(await receiver.waitFor(pattern, from)).message);
  // A connection's line, by its client port and frontend, among the messages from `from` on: the
  // kernel may give a later connection the port of an earlier one.
  const ofClient = (port: number, frontend: string) => new RegExp(` - - 127\\.0\\.0\\.1:${port} \\[[^\\]]+\\] ${frontend} `);
  try {
    // Normal: "----".
    await rawExchange(ports.web!, "GET /fine HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.equal((await line(/ web app\/a .*"GET \/fine HTTP\/1\.1"$/)).terminationState, "----");

    // A bad request: PR, 400, no request line.
    let mark = receiver.messages.length;
    const bad = await rawExchange(ports.web!, "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
    assert.match(bad.response.toString(), /^HTTP\/1\.1 400 /);
    const pr = await line(ofClient(bad.localPort, "web"), mark);
    assert.equal(pr.request, "<BADREQ>");
    assert.equal(pr.terminationState, "PR--");
    assert.equal(pr.status, 400);
    assert.equal(pr.server, "<NOSRV>");

    // A connection that sends nothing: CR with 400 (HAProxy's log of a null connection)...
    mark = receiver.messages.length;
    const empty = await rawExchange(ports.web!, "", { end: true });
    const cr = await line(ofClient(empty.localPort, "web"), mark);
    assert.equal(cr.terminationState, "CR--");
    assert.equal(cr.request, "<BADREQ>");
    // ...which dontlognull leaves out; the next real request on that frontend is logged.
    mark = receiver.messages.length;
    const quietEmpty = await rawExchange(ports.quiet!, "", { end: true });
    await rawExchange(ports.quiet!, "GET /after-null HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await receiver.waitFor(/ quiet app\/a .*"GET \/after-null HTTP\/1\.1"$/, mark);
    assert.deepEqual(receiver.messages.slice(mark).filter((message) => ofClient(quietEmpty.localPort, "quiet").test(message)), []);

    // Client abort during the response body: CD.
    const streaming = net.connect({ host: "127.0.0.1", port: ports.web! });
    streaming.on("error", () => {});
    const streamPort = await new Promise<number>((resolve) => streaming.on("connect", () => resolve(streaming.localPort!)));
    let streamed = 0;
    streaming.on("data", (chunk: Buffer) => (streamed += chunk.length));
    streaming.write("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    // The head and more than 1,000 body bytes have arrived: the abort is during the body.
    await waitUntil(() => streamed > 2_000, "the streamed response");
    mark = receiver.messages.length;
    streaming.destroy();
    const cd = await line(ofClient(streamPort, "web"), mark);
    assert.equal(cd.request, "GET /stream HTTP/1.1");
    assert.equal(cd.terminationState, "CD--");
    assert.equal(cd.status, 200);
    assert.ok(cd.bytes > 1_000, `bytes ${cd.bytes}`);

    // Server timeout before the response head: sH, 504.
    assert.equal(await get(ports.slow!, "/nothing"), 504);
    const sh = await line(/ slow stall\/s .*"GET \/nothing HTTP\/1\.1"$/);
    assert.equal(sh.terminationState, "sH--");
    assert.equal(sh.status, 504);
    assert.ok(sh.Tr === -1 && sh.Tc >= 0, `Tr ${sh.Tr}, Tc ${sh.Tc}`);

    // Connection refused after one retry: SC, 503, the server tried, "1" retry; an error line at "err".
    assert.equal(await get(ports.down!, "/refused"), 503);
    const scMessage = parseRfc5424(await receiver.waitFor(/ down dead\/d .*"GET \/refused HTTP\/1\.1"$/));
    assert.equal(scMessage.severity, SEVERITY.err);
    const sc = parseHttplog(scMessage.message);
    assert.equal(sc.terminationState, "SC--");
    assert.equal(sc.status, 503);
    assert.equal(sc.retries, "1");
    assert.equal(sc.Tc, -1);

    // No server at all: SC with <NOSRV>.
    assert.equal(await get(ports.nosrv!, "/none"), 503);
    const nosrv = await line(/ nosrv off\/<NOSRV> .*"GET \/none HTTP\/1\.1"$/);
    assert.equal(nosrv.terminationState, "SC--");
    assert.equal(nosrv.Tw, -1);

    // Queue timeout: sQ, 503, while the only slot is busy.
    const busy = get(ports.queue!, "/slow");
    await waitUntil(() => slowAnswers.length === 1, "the request holding the only slot at the origin");
    assert.equal(await get(ports.queue!, "/queued"), 503);
    const sq = await line(/ queue one\/<NOSRV> .*"GET \/queued HTTP\/1\.1"$/);
    assert.equal(sq.terminationState, "sQ--");
    assert.ok(sq.Tw >= 250, `Tw ${sq.Tw}`);
    assert.equal(sq.backendQueue, 0);
    slowAnswers.shift()!();
    assert.equal(await busy, 200);

    // http-request timeout with half a head: cR, 408.
    mark = receiver.messages.length;
    const slowHead = await rawExchange(ports.req!, "GET /partial HTTP/1.1\r\nHo");
    assert.match(slowHead.response.toString(), /^HTTP\/1\.1 408 /);
    const creq = await line(ofClient(slowHead.localPort, "req"), mark);
    assert.equal(creq.terminationState, "cR--");
    assert.equal(creq.status, 408);

    // tcp mode, server refusing: SC in a tcplog line, with the server tried and no connect time.
    mark = receiver.messages.length;
    const refused = await rawExchange(ports.tcpdown!, "hello");
    const tcpLine = parseTcplog(parseRfc5424(await receiver.waitFor(ofClient(refused.localPort, "tcpdown"), mark)).message);
    assert.equal(tcpLine.terminationState, "SC");
    assert.equal(tcpLine.server, "t");
    assert.equal(tcpLine.Tc, -1);
    assert.equal(tcpLine.bytes, 0);
  } finally {
    for (const answer of slowAnswers.splice(0)) answer();
    await proxy.stop();
    remove();
    await origin.close();
    await stall.close();
    await receiver.close();
  }
});

test("a TCP syslog server gets RFC 6587 octet-counted frames", async () => {
  const receiver = await TcpSyslogReceiver.start();
  const origin = await httpOrigin((_req, res) => res.end("ok"));
  // Non-ASCII text in the line: the frame length counts bytes, not characters.
  const config = `
[global]
log = [{ target = "tcp://127.0.0.1:${receiver.port}", format = "rfc5424" }]

[defaults]
mode = "http"
log = "global"
log-format = "%ST é→ %{+Q}r"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
servers = [{ name = "a", address = "${origin.address}" }]
`;
  const { proxy, ports, remove } = await startWithConfig(config, ["web"]);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) assert.equal(await get(ports.web!, `/n/${i}`, agent), 200);
    agent.destroy();
    await receiver.waitFor(/"GET \/n\/19 HTTP\/1\.1"$/);
    assert.deepEqual(receiver.badFrames, []);
    const lines = payloads(receiver.messages, /"GET \/n\//);
    assert.deepEqual(lines, Array.from({ length: 20 }, (_, i) => `200 é→ "GET /n/${i} HTTP/1.1"`));
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
    await receiver.close();
  }
});

test("unreachable and stalled log targets leave traffic unaffected and their drops are counted", async () => {
  // A TCP receiver that accepts and never reads: the kernel buffers fill, then ours.
  const stalledSockets = new Set<net.Socket>();
  const stalled = net.createServer((socket) => {
    socket.pause();
    socket.on("error", () => {});
    stalledSockets.add(socket);
  });
  await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
  const stalledPort = (stalled.address() as net.AddressInfo).port;
  const refusedTcp = await deadPort();
  const refusedUdp = await deadPort();
  const origin = await httpOrigin((_req, res) => res.end("ok"));
  const config = `
[global]
log = ["udp://127.0.0.1:${refusedUdp}", "tcp://127.0.0.1:${refusedTcp}"]

[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"
log = "global"

[frontends.big]
bind = "127.0.0.1:0"
default-backend = "app"
log = [{ target = "tcp://127.0.0.1:${stalledPort}", format = "raw", max-length = 65535 }]
log-format = "%ST ${"x".repeat(30_000)}"

[backends.app]
servers = [{ name = "a", address = "${origin.address}" }]
`;
  const { proxy, ports, remove } = await startWithConfig(config, ["web", "big"]);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const started = Date.now();
    for (let i = 0; i < 100; i++) assert.equal(await get(ports.web!, `/r/${i}`, agent), 200);
    // The first report comes at once, whatever the reason (the connection may still be in progress).
    await proxy.waitFor(new RegExp(`Log target "tcp://127\\.0\\.0\\.1:${refusedTcp}" dropped \\d+ lines? \\(\\d+ in all\\): `));
    // 30 kB a line: 1,000 lines are far more than the loopback buffers and ours can hold.
    const batch = [];
    for (let i = 0; i < 1_000; i++) {
      batch.push(get(ports.big!, `/b/${i}`, agent));
      if (batch.length === 8) assert.deepEqual(await Promise.all(batch.splice(0)), Array(8).fill(200));
    }
    assert.deepEqual(await Promise.all(batch), batch.map(() => 200));
    agent.destroy();
    await proxy.waitFor(new RegExp(`Log target "tcp://127\\.0\\.0\\.1:${stalledPort}" dropped \\d+ lines? \\(\\d+ in all\\): the receiver is not reading`));
    // A liveness bound, not a benchmark: a proxy blocked on its log targets would take far longer.
    assert.ok(Date.now() - started < 30_000, `${Date.now() - started} ms for 1,100 requests`);
    assert.ok(proxy.running);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
    for (const socket of stalledSockets) socket.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  }
});

test("operator messages reach syslog with HAProxy's severities", async () => {
  const receiver = await UdpSyslogReceiver.start();
  let healthy = true;
  const origin = await httpOrigin((_req, res) => {
    res.writeHead(healthy ? 200 : 500);
    res.end();
  });
  const config = `
[global]
log = [{ target = "udp://127.0.0.1:${receiver.port}", format = "rfc5424" }]

[defaults]
mode = "http"

[frontends.web]
bind = "127.0.0.1:0"
default-backend = "app"

[backends.app]
check = { type = "http", interval = "100ms", rise = 1, fall = 1 }
servers = [{ name = "a", address = "${origin.address}" }]
`;
  const { proxy, remove } = await startWithConfig(config, ["web"]);
  try {
    const severityOf = async (pattern: RegExp) => parseRfc5424(await receiver.waitFor(pattern)).severity;
    assert.equal(await severityOf(/Frontend "web" \(http\) listening on/), SEVERITY.info);
    healthy = false;
    assert.equal(await severityOf(/Server "app\/a" is DOWN/), SEVERITY.alert);
    assert.equal(await severityOf(/Backend "app" has no server available!/), SEVERITY.emerg);
    healthy = true;
    assert.equal(await severityOf(/Server "app\/a" is UP/), SEVERITY.notice);
    proxy.sendSignal("SIGUSR1");
    await proxy.waitExit();
    assert.equal(await severityOf(/SIGUSR1 received/), SEVERITY.notice);
    assert.equal(await severityOf(/Proxy stopped/), SEVERITY.notice);
  } finally {
    await proxy.stop();
    remove();
    await origin.close();
    await receiver.close();
  }
});

test("the quick start's --log stdout prints httplog lines on standard output", async () => {
  const origin = await httpOrigin((_req, res) => res.end("ok"));
  const proxy = new CliProcess(["--bind", "127.0.0.1:0", "--backend", origin.address, "--log", "stdout"]);
  try {
    const port = Number((await proxy.waitFor(/listening on 127\.0\.0\.1:(\d+)/))[1]);
    assert.equal(await get(port, "/quick"), 200);
    await waitUntil(() => proxy.stdout.includes("/quick"), "the line on stdout");
    const line = proxy.stdout.split("\n").find((text) => text.includes("/quick"));
    assert.ok(line !== undefined, proxy.stdout);
    const fields = parseHttplog(line);
    assert.equal(fields.frontend, "main");
    assert.equal(fields.server, "s1");
    assert.equal(fields.status, 200);
    assert.equal(fields.request, "GET /quick HTTP/1.1");
  } finally {
    await proxy.stop();
    await origin.close();
  }
});

test("a log target whose name does not resolve stops the start with an error naming it", async () => {
  const proxy = new CliProcess(["--bind", "127.0.0.1:0", "--backend", "127.0.0.1:9", "--log", "udp://no-such-host.invalid"]);
  try {
    const code = await proxy.waitExit();
    assert.notEqual(code, 0);
    assert.match(proxy.stderr, /Cannot resolve "no-such-host\.invalid" for log target "udp:\/\/no-such-host\.invalid"/);
    assert.doesNotMatch(proxy.stderr, /listening on/);
  } finally {
    await proxy.stop();
  }
});
