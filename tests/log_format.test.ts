import { test } from "node:test";
import assert from "node:assert/strict";
import {
  compileLogFormat,
  formatJsonLog,
  HTTPLOG_FORMAT,
  LogFormatError,
  resolveLogFormat,
  TCPLOG_FORMAT,
} from "../src/log/log_format.ts";
import type { LogRecord } from "../src/log/record.ts";

/** 09/Feb/2009:12:14:14.655 UTC, the date of HAProxy's httplog example. */
const EXAMPLE_DATE = Date.UTC(2009, 1, 9, 12, 14, 14, 655);

/** The request of HAProxy's httplog example (configuration manual, 8.2.3). */
function exampleRecord(overrides: Partial<LogRecord> = {}): LogRecord {
  return {
    clientAddress: "10.0.1.2",
    clientPort: 33317,
    frontendAddress: "10.0.0.1",
    frontendPort: 80,
    acceptDate: EXAMPLE_DATE,
    requestDate: EXAMPLE_DATE,
    frontendName: "http-in",
    tlsVersion: "",
    tlsCipher: "",
    tlsServerName: "",
    tlsAlpn: "",
    tlsPeerCertificate: "none",
    proxied: null,
    tlsPeerError: "",
    tlsPeerSubject: "",
    backendName: "static",
    serverName: "srv1",
    serverAddress: "10.0.2.1",
    serverPort: 8080,
    handshakeTime: 0,
    idleTime: 0,
    requestTime: 10,
    queueTime: 0,
    connectTime: 30,
    responseTime: 69,
    activeTime: 109,
    totalTime: 109,
    status: 200,
    bytesRead: 2750,
    bytesUploaded: 120,
    terminationState: "----",
    processConnections: 1,
    frontendConnections: 1,
    backendConnections: 1,
    serverConnections: 1,
    retries: 0,
    redispatched: false,
    serverQueue: 0,
    backendQueue: 0,
    method: "GET",
    uri: "/index.html",
    httpVersion: "HTTP/1.1",
    capturedRequestHeaders: "",
    capturedResponseHeaders: "",
    ...overrides,
  };
}

const UTC = { utc: true };

test("httplog prints HAProxy's example line, without the empty captures and their spaces", () => {
  const httplog = compileLogFormat(HTTPLOG_FORMAT, UTC);
  assert.equal(
    httplog(exampleRecord()),
    '10.0.1.2:33317 [09/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"',
  );
});

test("httplog prints captured headers in braces", () => {
  const httplog = compileLogFormat(HTTPLOG_FORMAT, UTC);
  assert.equal(
    httplog(exampleRecord({ capturedRequestHeaders: "1wt.eu" })),
    '10.0.1.2:33317 [09/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} "GET /index.html HTTP/1.1"',
  );
  assert.equal(
    httplog(exampleRecord({ capturedRequestHeaders: "1wt.eu|curl", capturedResponseHeaders: "text/html" })),
    '10.0.1.2:33317 [09/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu|curl} {text/html} "GET /index.html HTTP/1.1"',
  );
  // Only a single space before the capture belongs to it.
  assert.equal(compileLogFormat("a  %hr|%hs b", UTC)(exampleRecord()), "a  | b");
  assert.equal(compileLogFormat("%hr", UTC)(exampleRecord({ capturedRequestHeaders: "x" })), "{x}");
  assert.equal(compileLogFormat("a %{+Q}hr", UTC)(exampleRecord({ capturedRequestHeaders: "x" })), 'a "{x}"');
});

test("tcplog prints HAProxy's example line", () => {
  const tcplog = compileLogFormat(TCPLOG_FORMAT, UTC);
  const record = exampleRecord({
    clientPort: 33313,
    acceptDate: Date.UTC(2009, 1, 6, 12, 12, 51, 443),
    frontendName: "fnt",
    backendName: "bck",
    queueTime: 0,
    connectTime: 0,
    totalTime: 5007,
    bytesRead: 212,
    terminationState: "--",
    processConnections: 0,
    frontendConnections: 0,
    backendConnections: 0,
    serverConnections: 0,
    retries: 3,
    method: "",
    uri: "",
    httpVersion: "",
    status: -1,
  });
  assert.equal(
    tcplog(record),
    "10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0",
  );
  // %ts is the first two termination characters of a four-character state.
  assert.equal(
    tcplog(exampleRecord()),
    "10.0.1.2:33317 [09/Feb/2009:12:14:14.655] http-in static/srv1 0/30/109 2750 -- 1/1/1/1/0 0/0",
  );
});

test("no server, unfinished phases, no backend yet and a redispatch", () => {
  const httplog = compileLogFormat(HTTPLOG_FORMAT, UTC);
  const record = exampleRecord({
    backendName: "",
    serverName: null,
    queueTime: -1,
    connectTime: -1,
    responseTime: -1,
    activeTime: 10,
    status: 503,
    bytesRead: 212,
    terminationState: "SC--",
    retries: 3,
    redispatched: true,
  });
  assert.equal(
    httplog(record),
    '10.0.1.2:33317 [09/Feb/2009:12:14:14.655] http-in http-in/<NOSRV> 10/-1/-1/-1/10 503 212 - - SC-- 1/1/1/1/+3 0/0 "GET /index.html HTTP/1.1"',
  );
  assert.equal(
    compileLogFormat("%ST %{+X}Tw %{+X}rc")(
      exampleRecord({ status: -1, queueTime: -1, retries: 10, redispatched: true }),
    ),
    "-1 -1 +A",
  );
  assert.equal(compileLogFormat("%r|%{+Q}r")(exampleRecord({ method: "" })), '<BADREQ>|"<BADREQ>"');
});

test("flags +Q, +E and +X, combined and removed", () => {
  const record = exampleRecord({ uri: "/a\\b[c]?q=1" });
  assert.equal(compileLogFormat("%{+Q}ft %{+Q}b/%{+Q}s")(record), '"http-in" "static"/"srv1"');
  // +Q does not apply to numbers, as in HAProxy.
  assert.equal(compileLogFormat("%{+Q}ST %{+Q}B")(record), "200 2750");
  assert.equal(compileLogFormat("%{+X}ci:%{+X}cp %{+X}B %{+X}fp")(record), "0A000102:8225 ABE 0050");
  assert.equal(compileLogFormat("%{+X}ci")(exampleRecord({ clientAddress: "::ffff:127.0.0.1" })), "7F000001");
  assert.equal(compileLogFormat("%{+X}ci")(exampleRecord({ clientAddress: "::1" })), "::1");
  assert.equal(compileLogFormat("%{+E}HU")(record), "/a\\\\b\\[c\\]?q=1");
  assert.equal(compileLogFormat("%{+Q,+E}HP")(record), '"/a\\\\b\\[c\\]"');
  assert.equal(compileLogFormat("%{+Q,-Q}ft %{}ft")(record), "http-in http-in");
  // Empty text prints HAProxy's "-", or "" when quoted.
  const tcpRecord = exampleRecord({ method: "", uri: "", httpVersion: "" });
  assert.equal(compileLogFormat("%HM %{+Q}HM %CC %{+Q}CS")(tcpRecord), '- "" - ""');
});

test("every variable prints its field", () => {
  const record = exampleRecord({
    uri: "/search?q=a",
    handshakeTime: 3,
    idleTime: 4,
    totalTime: 150,
    serverQueue: 2,
    backendQueue: 5,
    acceptDate: EXAMPLE_DATE - 20,
  });
  const format = compileLogFormat(
    "%ci %cp %fi %fp %si %sp|%t|%tr|%T|%Ts|%f %ft %b %s|%Th %Ti %TR %Tw %Tc %Tr %Ta %Tt|%ST %B %U|%ts %tsc|" +
      "%ac %fc %bc %sc %rc %sq %bq|%HM %HU %HV %HP %HQ|%pid %H",
    { utc: true, pid: 4242, hostname: "lb1" },
  );
  assert.equal(
    format(record),
    "10.0.1.2 33317 10.0.0.1 80 10.0.2.1 8080|09/Feb/2009:12:14:14.635|09/Feb/2009:12:14:14.655|" +
      "09/Feb/2009:12:14:14 +0000|1234181654|http-in http-in static srv1|3 4 10 0 30 69 109 150|200 2750 120|" +
      "-- ----|1 1 1 1 0 2 5|GET /search?q=a HTTP/1.1 /search ?q=a|4242 lb1",
  );
  assert.equal(compileLogFormat("[%HQ] %{+X}pid %H")(exampleRecord()), "[] 0 -");
  assert.equal(compileLogFormat("%si:%sp")(exampleRecord({ serverAddress: "", serverPort: 0 })), "-:0");
});

test("%% is a literal percent sign, and a format without variables is constant", () => {
  assert.equal(compileLogFormat("100%% %ST %%")(exampleRecord()), "100% 200 %");
  assert.equal(compileLogFormat("static text")(exampleRecord()), "static text");
  assert.equal(compileLogFormat("")(exampleRecord()), "");
});

test("malformed formats are refused with the column of the mistake", () => {
  const cases: Array<[string, number, RegExp]> = [
    ["%ci %xx", 4, /^Unknown log variable "%xx" at column 4$/],
    ["ab %{+Q", 3, /^Unterminated "%\{" at column 3/],
    ["%ci %{+Q,+Z}r", 9, /^Unknown log format flag "\+Z" at column 9/],
    ["%{Q}r", 2, /^Unknown log format flag "Q" at column 2/],
    ["%{+Q,}r", 5, /^Unknown log format flag "" at column 5/],
    ["abc %", 4, /^Unexpected "%" at the end of the log format at column 4/],
    ["%ci %[src] x", 4, /^Sample expressions %\[\.\.\.\] are not supported: "%\[src\]" at column 4 \(only the TLS and PROXY-header fetches/],
    ["%{+Q}[src", 0, /^Sample expressions %\[\.\.\.\] are not supported: "%\{\+Q\}\[src" at column 0 \(only the TLS and PROXY-header fetches/],
    ["100% done", 3, /^Expected a log variable name after "%" at column 3, found " "/],
    ["%{+Q}", 0, /^Expected a log variable name after "%" at column 0, found the end of the format/],
    ["%o %ci", 0, /^Unknown log variable "%o" at column 0$/],
  ];
  for (const [format, column, message] of cases) {
    assert.throws(
      () => compileLogFormat(format),
      (error: unknown) => {
        assert.ok(error instanceof LogFormatError, `${format}: not a LogFormatError`);
        assert.ok(error instanceof Error);
        assert.equal(error.code, "ELOGFORMAT");
        assert.equal(error.name, "LogFormatError");
        assert.equal(error.column, column, `${format}: column`);
        assert.equal(error.format, format);
        assert.match(error.message, message);
        return true;
      },
    );
  }
  assert.throws(() => resolveLogFormat("%nope"), LogFormatError);
});

test("control characters in text fields become #XX, so a line never splits", () => {
  const httplog = compileLogFormat(HTTPLOG_FORMAT, UTC);
  const record = exampleRecord({
    uri: "/a\r\nb\x7f",
    capturedRequestHeaders: "evil\n{x}",
    frontendName: "fe\tx",
  });
  const line = httplog(record);
  for (let i = 0; i < line.length; i++) {
    const code = line.charCodeAt(i);
    assert.ok(code >= 0x20 && code !== 0x7f, `control character at ${i} in ${JSON.stringify(line)}`);
  }
  assert.equal(
    line,
    '10.0.1.2:33317 [09/Feb/2009:12:14:14.655] fe#09x static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {evil#0A#7Bx#7D} "GET /a#0D#0Ab#7F HTTP/1.1"',
  );
  // In the request line a quote and "#" are escaped too, as HAProxy does: +Q cannot be closed early.
  assert.equal(compileLogFormat("%{+Q}HU")(exampleRecord({ uri: '/x"y#z' })), '"/x#22y#23z"');
});

test("dates: milliseconds, second cache, %T in GMT and local time by default", () => {
  const format = compileLogFormat("%t", UTC);
  const base = Date.UTC(2024, 11, 31, 23, 59, 59, 0);
  const at = (ms: number) => format(exampleRecord({ acceptDate: ms }));
  assert.equal(at(base + 5), "31/Dec/2024:23:59:59.005");
  assert.equal(at(base + 999), "31/Dec/2024:23:59:59.999");
  assert.equal(at(base + 1000), "01/Jan/2025:00:00:00.000");
  assert.equal(at(base + 1042), "01/Jan/2025:00:00:00.042");
  // An earlier second after a later one (records are not logged in accept order).
  assert.equal(at(base + 120), "31/Dec/2024:23:59:59.120");
  assert.equal(
    compileLogFormat("%T %Ts")(exampleRecord({ acceptDate: base + 999 })),
    "31/Dec/2024:23:59:59 +0000 1735689599",
  );

  const local = compileLogFormat("%t")(exampleRecord({ acceptDate: base + 7 }));
  const date = new Date(base + 7);
  const pad = (n: number) => String(n).padStart(2, "0");
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  assert.equal(
    local,
    `${pad(date.getDate())}/${months[date.getMonth()]}/${date.getFullYear()}:${pad(date.getHours())}:${
      pad(date.getMinutes())
    }:${pad(date.getSeconds())}.007`,
  );
});

test("one compiled formatter serves many records", () => {
  const httplog = compileLogFormat(HTTPLOG_FORMAT, UTC);
  const first = httplog(exampleRecord());
  const second = httplog(
    exampleRecord({
      clientAddress: "192.0.2.7",
      clientPort: 40000,
      requestDate: EXAMPLE_DATE + 1345,
      status: 404,
      uri: "/missing",
    }),
  );
  assert.equal(
    first,
    '10.0.1.2:33317 [09/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"',
  );
  assert.equal(
    second,
    '192.0.2.7:40000 [09/Feb/2009:12:14:16.000] http-in static/srv1 10/0/30/69/109 404 2750 - - ---- 1/1/1/1/0 0/0 "GET /missing HTTP/1.1"',
  );
  assert.equal(httplog(exampleRecord()), first);
});

test("JSON lines parse and carry every field in a fixed order", () => {
  const line = formatJsonLog(exampleRecord({ uri: '/a\r\n"b' }));
  assert.ok(!line.includes("\n"));
  const parsed = JSON.parse(line);
  assert.deepEqual(Object.keys(parsed), [
    "accept_date",
    "client_ip",
    "client_port",
    "frontend",
    "backend",
    "server",
    "timers",
    "status",
    "bytes_read",
    "bytes_uploaded",
    "termination_state",
    "connections",
    "queues",
    "request",
  ]);
  assert.deepEqual(parsed, {
    accept_date: "2009-02-09T12:14:14.655Z",
    client_ip: "10.0.1.2",
    client_port: 33317,
    frontend: "http-in",
    backend: "static",
    server: "srv1",
    timers: { TR: 10, Tw: 0, Tc: 30, Tr: 69, Ta: 109, Tt: 109 },
    status: 200,
    bytes_read: 2750,
    bytes_uploaded: 120,
    termination_state: "----",
    connections: { active: 1, frontend: 1, backend: 1, server: 1, retries: 0, redispatched: false },
    queues: { server: 0, backend: 0 },
    request: { method: "GET", uri: '/a\r\n"b', version: "HTTP/1.1" },
  });

  const tcp = JSON.parse(
    formatJsonLog(
      exampleRecord({
        backendName: "",
        serverName: null,
        method: "",
        uri: "",
        httpVersion: "",
        acceptDate: EXAMPLE_DATE + 2345,
      }),
    ),
  );
  assert.equal(tcp.accept_date, "2009-02-09T12:14:17.000Z");
  assert.equal(tcp.backend, null);
  assert.equal(tcp.server, null);
  assert.equal(tcp.request, null);
});

test("resolveLogFormat knows tcplog, httplog and json, and compiles anything else", () => {
  const record = exampleRecord();
  assert.equal(resolveLogFormat("tcplog", UTC)(record), compileLogFormat(TCPLOG_FORMAT, UTC)(record));
  assert.equal(resolveLogFormat("httplog", UTC)(record), compileLogFormat(HTTPLOG_FORMAT, UTC)(record));
  assert.equal(resolveLogFormat("json"), formatJsonLog);
  assert.equal(resolveLogFormat("%ci %ST")(record), "10.0.1.2 200");
});

test("the TLS fields: %ft's ~, %sslv, %sslc and HAProxy's TLS sample fetches written alone", () => {
  const format = compileLogFormat("%ft %sslv %sslc %[ssl_fc] %[ssl_fc_sni] %[ssl_fc_alpn] %[ssl_c_used] %[ssl_c_verify] %{+Q}[ssl_c_s_dn]");
  assert.equal(format(exampleRecord()), `http-in - - 0 - - 0 0 ""`);
  const secure = exampleRecord({
    tlsVersion: "TLSv1.3", tlsCipher: "TLS_AES_128_GCM_SHA256", tlsServerName: "www.example.test", tlsAlpn: "http/1.1",
    tlsPeerCertificate: "invalid", tlsPeerError: "CERT_HAS_EXPIRED", tlsPeerSubject: "/CN=client one",
  });
  assert.equal(format(secure), `http-in~ TLSv1.3 TLS_AES_128_GCM_SHA256 1 www.example.test http/1.1 1 10 "/CN=client one"`);
  assert.equal(compileLogFormat("%[ssl_c_verify]")(exampleRecord({ tlsVersion: "TLSv1.3", tlsPeerCertificate: "valid" })), "0");
  assert.throws(() => compileLogFormat("%[ssl_fc_sni,lower]"), /Sample expressions %\[\.\.\.\] are not supported: "%\[ssl_fc_sni,lower\]" at column 0 \(only the TLS and PROXY-header fetches ssl_fc, /);
  assert.throws(() => compileLogFormat("%[src]"), /not supported: "%\[src\]"/);
});
