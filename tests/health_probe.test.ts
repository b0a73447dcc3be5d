/**
 * The health-check probes against real loopback servers, under whichever runtime runs this file
 * (node --test, bun test, deno test), with every socket API that runtime offers: the tcp connect
 * probe, and the http probe's request bytes, status ranges, body search and failure results.
 * Origins are written with the runtime's own listen, so the exact response bytes are under test.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRuntime, detectRuntimeName, socketApisOf } from "../src/runtime/detect.ts";
import type { Connection, ConnectionHandler, Listener, Runtime, SocketApi } from "../src/runtime/types.ts";
import type { NetError } from "../src/runtime/net_error.ts";
import { CHECK_STATUS, connectProblem, describeConnectError } from "../src/core/health/probe.ts";
import type { HealthProbe, ProbeResult, ProbeRun } from "../src/core/health/probe.ts";
import { TcpConnectProbe } from "../src/tcp/connect_probe.ts";
import { buildCheckRequest, CHECK_BODY_MAX_BYTES, HttpCheckProbe } from "../src/http/check_probe.ts";
import type { HttpCheckConfig } from "../src/config/types.ts";
import { deadPort } from "./_cli_helpers.ts";
import { latin1Bytes, latin1Text, sleep } from "./_runtime_helpers.ts";

const LOOPBACK = "127.0.0.1";

/** An http check as the configuration builds it, HAProxy's defaults unless told. */
function httpCheck(overrides: Partial<HttpCheckConfig> = {}): HttpCheckConfig {
  return {
    method: "GET",
    path: "/",
    host: null,
    expectStatus: [{ min: 200, max: 399 }],
    expectBody: null,
    ...overrides,
  };
}

/** What a test does with an accepted connection: answer once the request head is in, or anything at accept. */
interface OriginScript {
  onAccept?(conn: Connection): void;
  onRequest?(conn: Connection, request: string): void | Promise<void>;
}

/** One accepted connection of a raw origin: collects the request, runs the script. */
class OriginConnection implements ConnectionHandler {
  text = "";
  answered = false;
  closed = false;
  readonly #script: OriginScript;
  readonly #origin: RawOrigin;

  constructor(origin: RawOrigin, script: OriginScript) {
    this.#origin = origin;
    this.#script = script;
  }

  onOpen(_conn: Connection): void {}
  onData(conn: Connection, chunk: Uint8Array): void {
    this.text += latin1Text(chunk);
    if (!this.answered && this.text.includes("\r\n\r\n")) {
      this.answered = true;
      this.#origin.requests.push(this.text);
      const answer = this.#script.onRequest?.(conn, this.text);
      if (answer instanceof Promise) answer.catch(() => {});
    }
  }
  onDrain(_conn: Connection): void {}
  onEnd(conn: Connection): void {
    conn.end();
  }
  onClose(_conn: Connection, _error: NetError | undefined): void {
    this.closed = true;
  }
}

/** A loopback server on the runtime under test whose bytes each test writes itself. */
class RawOrigin {
  readonly requests: string[] = [];
  readonly connections: { conn: Connection; handler: OriginConnection }[] = [];
  listener: Listener | undefined = undefined;

  get port(): number {
    return this.listener!.address.port;
  }

  static async start(runtime: Runtime, script: OriginScript): Promise<RawOrigin> {
    const origin = new RawOrigin();
    origin.listener = await runtime.listen(
      { host: LOOPBACK, port: 0, backlog: 16, reusePort: false },
      (conn) => {
        const handler = new OriginConnection(origin, script);
        conn.setHandler(handler);
        origin.connections.push({ conn, handler });
        script.onAccept?.(conn);
      },
      () => {},
    );
    return origin;
  }

  async close(): Promise<void> {
    for (const { conn } of this.connections) conn.destroy();
    await this.listener?.close();
  }
}

/** Writes a latin1 string. */
function send(conn: Connection, text: string): void {
  conn.write(latin1Bytes(text));
}

/** Resolves when `condition` holds, polling; fails after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Runs one check to its result within a bound, and checks the contract on the way: `done` is never
 * called within `start`, and exactly once (a while after the result, it has not come again).
 */
async function check(probe: HealthProbe, timeoutMs = 5_000): Promise<{ result: ProbeResult; run: ProbeRun }> {
  let calls = 0;
  let result: ProbeResult | undefined;
  let returned = false;
  let synchronous = false;
  const run = probe.start((each) => {
    calls++;
    if (!returned) synchronous = true;
    result = each;
  });
  returned = true;
  await until(() => calls > 0, "the check's result", timeoutMs);
  await sleep(30);
  assert.equal(synchronous, false, "done was called within start()");
  assert.equal(calls, 1, "done was called more than once");
  return { result: result!, run };
}

/** A response with a Content-Length body. */
function response(status: string, body: string, headers = ""): string {
  return `HTTP/1.1 ${status}\r\nContent-Length: ${body.length}\r\n${headers}\r\n${body}`;
}

function defineProbeSuite(socketApi: SocketApi, runtime: Runtime): void {
  /** Runs `body` with a raw origin, closing it whatever happens. */
  async function withOrigin(script: OriginScript, body: (origin: RawOrigin) => Promise<void>): Promise<void> {
    const origin = await RawOrigin.start(runtime, script);
    try {
      await body(origin);
    } finally {
      await origin.close();
    }
  }

  /** An http check of a raw origin answering `answer` to every request. */
  async function httpResult(answer: string, overrides: Partial<HttpCheckConfig> = {}): Promise<ProbeResult> {
    let result: ProbeResult | undefined;
    await withOrigin({ onRequest: (conn) => send(conn, answer) }, async (origin) => {
      result = (await check(new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck(overrides)))).result;
    });
    return result!;
  }

  describe(`health probes on ${detectRuntimeName()} with ${socketApi} sockets`, () => {
    test("tcp: a listening port passes, and the probe closes the connection at once", async () => {
      await withOrigin({}, async (origin) => {
        const { result, run } = await check(new TcpConnectProbe(runtime, LOOPBACK, origin.port));
        assert.deepEqual(result, { passed: true, status: CHECK_STATUS.layer4Passed, code: null, info: null });
        assert.equal(run.connected, true);
        await until(
          () => origin.connections.length === 1 && origin.connections[0]!.handler.closed,
          "the check to close",
        );
        assert.equal(origin.requests.length, 0, "a tcp check sends nothing");
      });
    });

    test("tcp: a dead port fails with Connection refused", async () => {
      const port = await deadPort();
      const { result, run } = await check(new TcpConnectProbe(runtime, LOOPBACK, port));
      assert.deepEqual(result, {
        passed: false,
        status: CHECK_STATUS.layer4Problem,
        code: null,
        info: "Connection refused",
      });
      assert.equal(run.connected, false);
    });

    test("tcp: cancel() right after start: done never comes", async () => {
      await withOrigin({}, async (origin) => {
        let calls = 0;
        const run = new TcpConnectProbe(runtime, LOOPBACK, origin.port).start(() => calls++);
        run.cancel();
        run.cancel();
        await sleep(150);
        assert.equal(calls, 0);
      });
      const port = await deadPort();
      let calls = 0;
      const run = new TcpConnectProbe(runtime, LOOPBACK, port).start(() => calls++);
      run.cancel();
      await sleep(150);
      assert.equal(calls, 0, "a refused connection reported after cancel");
    });

    test("http: 200 passes with its code and reason", async () => {
      const result = await httpResult(response("200 OK", "fine"));
      assert.deepEqual(result, { passed: true, status: CHECK_STATUS.layer7Passed, code: 200, info: "OK" });
    });

    test("http: 500 is a wrong status", async () => {
      const result = await httpResult(response("500 Internal Server Error", "oops"));
      assert.deepEqual(result, {
        passed: false,
        status: CHECK_STATUS.layer7WrongStatus,
        code: 500,
        info: "Internal Server Error",
      });
    });

    test("http: expected status ranges (2xx and 3xx by default; only 2xx fails a 302)", async () => {
      const redirect = response("302 Found", "", `Location: /login\r\n`);
      assert.equal((await httpResult(redirect)).passed, true);
      const only2xx = await httpResult(redirect, { expectStatus: [{ min: 200, max: 299 }] });
      assert.deepEqual(only2xx, {
        passed: false,
        status: CHECK_STATUS.layer7WrongStatus,
        code: 302,
        info: "Found",
      });
      const several = await httpResult(response("404 Not Found", ""), {
        expectStatus: [{ min: 200, max: 200 }, { min: 404, max: 404 }],
      });
      assert.equal(several.passed, true);
      assert.equal(several.code, 404);
      // An empty reason phrase is no detail.
      const bare = await httpResult("HTTP/1.1 204\r\n\r\n");
      assert.deepEqual(bare, { passed: true, status: CHECK_STATUS.layer7Passed, code: 204, info: null });
    });

    test("http: an interim 100 Continue is skipped for the final response", async () => {
      const result = await httpResult(
        "HTTP/1.1 100 Continue\r\n\r\n" + response("503 Service Unavailable", ""),
      );
      assert.equal(result.status, CHECK_STATUS.layer7WrongStatus);
      assert.equal(result.code, 503);
    });

    test("http: the request bytes, with the default Host and with an override", async () => {
      await withOrigin({ onRequest: (conn) => send(conn, response("200 OK", "")) }, async (origin) => {
        await check(new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck()));
        await check(
          new HttpCheckProbe(
            runtime,
            LOOPBACK,
            origin.port,
            httpCheck({ method: "OPTIONS", path: "/health?full=1", host: "app.example" }),
          ),
        );
        assert.deepEqual(origin.requests, [
          `GET / HTTP/1.1\r\nHost: 127.0.0.1:${origin.port}\r\nUser-Agent: proxy-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
          `OPTIONS /health?full=1 HTTP/1.1\r\nHost: app.example\r\nUser-Agent: proxy-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n`,
        ]);
      });
    });

    test("http: no body expected: the result comes with the head, without waiting for the body", async () => {
      // The origin announces a long body, sends a little and keeps the connection open.
      const script = {
        onRequest: (conn: Connection) =>
          send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nstart"),
      };
      await withOrigin(script, async (origin) => {
        const { result } = await check(new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck()));
        assert.equal(result.passed, true);
        await until(() => origin.connections[0]!.handler.closed, "the probe to close its connection");
      });
    });

    test("http: HEAD is answered without a body whatever Content-Length says", async () => {
      const script = {
        onRequest: (conn: Connection) => send(conn, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"),
      };
      await withOrigin(script, async (origin) => {
        const probe = new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ method: "HEAD" }));
        assert.equal((await check(probe)).result.passed, true);
        assert.match(origin.requests[0]!, /^HEAD \/ HTTP\/1\.1\r\n/);
        // Looking for a text in a response that has no body: not found, at once.
        const withBody = new HttpCheckProbe(
          runtime,
          LOOPBACK,
          origin.port,
          httpCheck({ method: "HEAD", expectBody: "x" }),
        );
        const { result } = await check(withBody);
        assert.deepEqual(result, {
          passed: false,
          status: CHECK_STATUS.layer7InvalidResponse,
          code: 200,
          info: 'Body does not contain "x"',
        });
      });
    });

    test("http: expected body text found in a Content-Length body", async () => {
      const result = await httpResult(response("200 OK", '{"status":"healthy"}'), {
        expectBody: '"healthy"',
      });
      assert.deepEqual(result, { passed: true, status: CHECK_STATUS.layer7Passed, code: 200, info: "OK" });
    });

    test("http: expected body text not found", async () => {
      const result = await httpResult(response("200 OK", '{"status":"degraded"}'), { expectBody: "healthy" });
      assert.deepEqual(result, {
        passed: false,
        status: CHECK_STATUS.layer7InvalidResponse,
        code: 200,
        info: 'Body does not contain "healthy"',
      });
    });

    test("http: a chunked body split across writes is decoded before the search", async () => {
      // "all-good" exists only in the decoded payload: the framing "\r\n5\r\n" splits it on the
      // wire, and the pieces arrive in separate writes, one of them inside a chunk's data.
      const script = {
        onRequest: async (conn: Connection) => {
          send(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nstatus");
          await sleep(20);
          send(conn, "\r\n5\r\n: all\r\n5\r\n-goo");
          await sleep(20);
          send(conn, "d\r\n0\r\n\r\n");
        },
      };
      await withOrigin(script, async (origin) => {
        const found = await check(
          new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: "all-good" })),
        );
        assert.deepEqual(found.result, {
          passed: true,
          status: CHECK_STATUS.layer7Passed,
          code: 200,
          info: "OK",
        });
        // Text that only the raw bytes hold (framing included) is not in the body.
        const framing = await check(
          new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: "status\r\n5" })),
        );
        assert.equal(framing.result.passed, false);
        assert.equal(framing.result.status, CHECK_STATUS.layer7InvalidResponse);
        assert.equal(framing.result.info, 'Body does not contain "status\r\n5"');
      });
    });

    test("http: a body delimited by the close is read until the close", async () => {
      const script = {
        onRequest: (conn: Connection) => {
          send(conn, "HTTP/1.1 200 OK\r\n\r\nready");
          conn.end();
        },
      };
      await withOrigin(script, async (origin) => {
        const found = await check(
          new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: "ready" })),
        );
        assert.equal(found.result.passed, true);
        const missing = await check(
          new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: "steady" })),
        );
        assert.equal(missing.result.info, 'Body does not contain "steady"');
      });
    });

    test(`http: the body is searched in its first ${CHECK_BODY_MAX_BYTES} bytes only, and reading stops there`, async () => {
      const needle = "NEEDLE";
      const inside = "x".repeat(CHECK_BODY_MAX_BYTES - needle.length) + needle;
      // Announced longer than sent, connection kept open: a result means the probe stopped reading.
      const script = (body: string) => ({
        onRequest: (conn: Connection) =>
          send(conn, `HTTP/1.1 200 OK\r\nContent-Length: ${body.length + 100000}\r\n\r\n${body}`),
      });
      await withOrigin(script(inside), async (origin) => {
        const { result } = await check(
          new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: needle })),
        );
        assert.equal(result.passed, true, "the text ending at the limit was not found");
      });
      await withOrigin(
        script("x".repeat(CHECK_BODY_MAX_BYTES - needle.length + 1) + needle),
        async (origin) => {
          const { result } = await check(
            new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: needle })),
          );
          assert.equal(result.passed, false);
          assert.equal(result.info, `Body does not contain "${needle}"`);
        },
      );
    });

    test("http: garbage instead of a response is an invalid response", async () => {
      const result = await httpResult("SSH-2.0-OpenSSH_9.6\r\n");
      assert.equal(result.passed, false);
      assert.equal(result.status, CHECK_STATUS.layer7InvalidResponse);
      assert.equal(result.code, null);
      assert.equal(result.info, 'Invalid response: it does not start with "HTTP/"');
      // Starting like http is not enough: the parser judges the rest of the head.
      const badStatus = await httpResult("HTTP/1.1 2000 OK\r\n\r\n");
      assert.equal(badStatus.status, CHECK_STATUS.layer7InvalidResponse);
      assert.equal(badStatus.code, null);
      assert.match(badStatus.info!, /^Invalid response: Status "2000" is not a code/);
    });

    test("http: a head over the parser's limit, or a broken chunked body, is an invalid response", async () => {
      const huge = await httpResult(`HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
      assert.equal(huge.status, CHECK_STATUS.layer7InvalidResponse);
      assert.match(huge.info!, /^Invalid response: Head is larger than/);
      const broken = await httpResult("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", {
        expectBody: "x",
      });
      assert.equal(broken.status, CHECK_STATUS.layer7InvalidResponse);
      assert.equal(broken.code, 200);
      assert.match(broken.info!, /^Invalid response: Chunk size/);
    });

    test("http: a server closing right after accept gives an invalid response, not a layer-4 problem", async () => {
      // On loopback the kernel completes the handshake before the server's accept runs, so the
      // check is connected by the time the server closes: the server answered at layer 4 and then
      // gave no response, HAProxy's L7RSP. The close shows as a FIN, or as a reset when the request
      // reached an already closed socket.
      await withOrigin({ onAccept: (conn) => conn.destroy() }, async (origin) => {
        const { result, run } = await check(new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck()));
        assert.equal(run.connected, true);
        assert.equal(result.passed, false);
        assert.equal(result.status, CHECK_STATUS.layer7InvalidResponse);
        assert.equal(result.code, null);
        assert.match(result.info!, /^Connection (closed|reset by peer) before the response$/);
      });
    });

    test("http: a dead port is a layer-4 problem", async () => {
      const port = await deadPort();
      const { result, run } = await check(new HttpCheckProbe(runtime, LOOPBACK, port, httpCheck()));
      assert.deepEqual(result, {
        passed: false,
        status: CHECK_STATUS.layer4Problem,
        code: null,
        info: "Connection refused",
      });
      assert.equal(run.connected, false);
    });

    test("http: cancel() of a connected check closes it, and done never comes", async () => {
      await withOrigin({}, async (origin) => {
        let calls = 0;
        const run = new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck()).start(() => calls++);
        await until(() => origin.requests.length === 1, "the request");
        assert.equal(run.connected, true);
        run.cancel();
        await until(() => origin.connections[0]!.handler.closed, "the cancelled check to close");
        // A late answer to a cancelled run is not reported either.
        await sleep(50);
        assert.equal(calls, 0);
      });
    });

    test("http: a probe checks again and again (its parsers are reused between runs)", async () => {
      let count = 0;
      const script = {
        onRequest: (conn: Connection) => {
          count++;
          send(conn, count % 2 === 1 ? response("200 OK", "alive") : response("200 OK", "dead"));
        },
      };
      await withOrigin(script, async (origin) => {
        const probe = new HttpCheckProbe(runtime, LOOPBACK, origin.port, httpCheck({ expectBody: "alive" }));
        for (let i = 0; i < 4; i++) {
          const { result } = await check(probe);
          assert.equal(result.passed, i % 2 === 0, `check ${i + 1}`);
        }
      });
    });
  });
}

describe("health probe results without a network", () => {
  test("connection errors in the system's words", () => {
    assert.equal(describeConnectError("ECONNREFUSED", "x"), "Connection refused");
    assert.equal(describeConnectError("ECONNRESET", "x"), "Connection reset by peer");
    assert.equal(describeConnectError("EHOSTUNREACH", "x"), "No route to host");
    assert.equal(describeConnectError("ENETUNREACH", "x"), "Network is unreachable");
    assert.equal(describeConnectError("ETIMEDOUT", "x"), "Connection timed out");
    assert.equal(
      describeConnectError("EIO", 'Cannot connect "10.0.0.1:80": input/output error'),
      'Cannot connect "10.0.0.1:80": input/output error',
    );
    assert.equal(connectProblem(undefined).info, "Connection closed");
    assert.equal(connectProblem(new Error("boom")).info, "boom");
  });

  test("the Host header: IPv6 in brackets, no port for 80, an override as it is", () => {
    assert.match(buildCheckRequest("::1", 8080, httpCheck()), /\r\nHost: \[::1\]:8080\r\n/);
    assert.match(buildCheckRequest("10.0.0.1", 80, httpCheck()), /\r\nHost: 10\.0\.0\.1\r\n/);
    assert.match(
      buildCheckRequest("10.0.0.1", 80, httpCheck({ host: "www.example" })),
      /\r\nHost: www\.example\r\n/,
    );
  });

  test("a runtime whose connect throws gives a layer-4 problem, asynchronously", async () => {
    const throwing = {
      connect: () => {
        throw new Error("no sockets here");
      },
    } as unknown as Runtime;
    for (
      const probe of [
        new TcpConnectProbe(throwing, LOOPBACK, 1),
        new HttpCheckProbe(throwing, LOOPBACK, 1, httpCheck()),
      ]
    ) {
      const { result } = await check(probe);
      assert.deepEqual(result, {
        passed: false,
        status: CHECK_STATUS.layer4Problem,
        code: null,
        info: "no sockets here",
      });
    }
  });
});

for (const socketApi of socketApisOf(detectRuntimeName())) {
  defineProbeSuite(socketApi, createRuntime(detectRuntimeName(), socketApi));
}
