/**
 * How an http session writes (see the "Writes" notes of src/http/session.ts), with fake
 * connections and a fake runtime: a head and the body bytes that came in the same chunk leave in
 * one write up to COALESCE_MAX_BYTES, and in two beyond; a body forwarded in several pieces turns
 * TCP_NODELAY off on the receiving connection until its last piece; `http-no-delay` leaves
 * TCP_NODELAY alone. Every write is recorded as its own entry, bytes copied, so the tests see
 * exactly how many sends a message took and what each one carried.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { COALESCE_MAX_BYTES } from "../src/http/session.ts";
import { latin1Bytes as bytes, latin1Text as text } from "./_runtime_helpers.ts";
import { configFor, FakeConnection, hangUp, onlyServer, rig } from "./helpers/http_session_rig.ts";

// ---- bytes ----

function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Binary body bytes covering every byte value (CR, LF and NUL included): a body is not text. */
function body(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + 7) & 0xff;
  return out;
}

const GET_HEAD = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
const OK_SMALL = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

function postHead(length: number, extra = ""): string {
  return `POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/octet-stream\r\n${extra}Content-Length: ${length}\r\n\r\n`;
}

function responseHead(length: number, extra = ""): string {
  return `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n${extra}Content-Length: ${length}\r\n\r\n`;
}

/** Asserts the body was sent corked: one setNoDelay(false) before the second body write, one setNoDelay(true) after the last write. */
function assertCorkedAround(conn: FakeConnection, firstBodyWrite: number, label: string): void {
  assert.deepEqual(conn.noDelayCalls, [false, true], `${label}: setNoDelay calls`);
  const off = conn.noDelayIndexes(false)[0]!;
  const on = conn.noDelayIndexes(true)[0]!;
  const writes = conn.writes.length;
  assert.ok(off > conn.writeIndex(firstBodyWrite), `${label}: TCP_NODELAY went off before any body piece left`);
  assert.ok(off < conn.writeIndex(firstBodyWrite + 1), `${label}: TCP_NODELAY still on when the second body piece was written`);
  assert.ok(on > conn.writeIndex(writes - 1), `${label}: TCP_NODELAY back on before the last piece was written`);
}

// ---- tests ----

describe("a head and the body that came with it leave in one write", () => {
  test("a POST whose head and whole small body arrive in one chunk, before the server connection opens", () => {
    const r = rig();
    const head = postHead(10);
    const payload = body(10);
    r.client.deliverData(concat(bytes(head), payload));
    const server = onlyServer(r);
    assert.equal(r.host.fakeRuntime.connects[0]!.noDelay, true, "server connections are dialled with TCP_NODELAY");
    assert.deepEqual(server.writes, [], "nothing is written before the connection opens");

    server.deliverOpen();
    assert.deepEqual(server.writeTexts, [head + text(payload)], "head and body in one write");
    assert.deepEqual(server.noDelayCalls, [], "a body whole in its first chunk never turns TCP_NODELAY off");
    assert.deepEqual(r.client.noDelayCalls, [true], "the client only gets TCP_NODELAY on at start");

    server.deliverData(bytes(OK_SMALL));
    assert.deepEqual(r.client.writeTexts, [OK_SMALL]);
    assert.equal(r.host.serverPool.size, 1);
    hangUp(r);
  });

  test("the same on a kept-alive client connection whose request rides a pooled server connection", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    server.deliverData(bytes(OK_SMALL));
    assert.equal(r.host.serverPool.size, 1);
    server.clear();

    // The second request may take the idle connection (http-reuse safe): it is open already, so
    // the head and body are written while the client's chunk is parsed.
    const head = postHead(300);
    const payload = body(300, 1);
    r.client.deliverData(concat(bytes(head), payload));
    assert.equal(r.servers.length, 1, "no new connection: the pooled one was reused");
    // Its handler is the session's server side now (the connector), no longer the pool.
    assert.notEqual(server.handler, r.host.serverPool);
    assert.equal(r.host.serverPool.size, 0);
    assert.deepEqual(server.writeTexts, [head + text(payload)]);
    assert.deepEqual(server.noDelayCalls, []);
    hangUp(r);
  });

  test("a response head and its whole small body in one server chunk reach the client in one write", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    r.client.clear();
    const head = responseHead(100);
    const payload = body(100, 2);
    server.deliverData(concat(bytes(head), payload));
    assert.deepEqual(r.client.writeTexts, [head + text(payload)]);
    assert.deepEqual(r.client.noDelayCalls, [], "a response whole in one chunk never turns TCP_NODELAY off");
    assert.equal(r.host.serverPool.size, 1, "the server connection went back to the pool");
    hangUp(r);
  });

  test("the same for a chunked response whose last chunk came with the head", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    r.client.clear();
    const response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    server.deliverData(bytes(response));
    assert.deepEqual(r.client.writeTexts, [response]);
    assert.deepEqual(r.client.noDelayCalls, []);
    assert.equal(r.host.serverPool.size, 1);
    hangUp(r);
  });
});

describe("a body in several pieces is forwarded with TCP_NODELAY off until its last piece", () => {
  test("a request body in three chunks (Content-Length), the first with the head", () => {
    const r = rig();
    const p1 = body(100, 3);
    const p2 = body(200, 4);
    const p3 = body(50, 5);
    const head = postHead(350);
    r.client.deliverData(concat(bytes(head), p1));
    const server = onlyServer(r);
    server.deliverOpen();
    assert.deepEqual(server.writeTexts, [head + text(p1)], "head joined with the first piece");
    assert.deepEqual(server.noDelayCalls, [false], "TCP_NODELAY off while the body is incomplete");

    r.client.deliverData(p2);
    assert.deepEqual(server.noDelayCalls, [false], "turned off once only");
    r.client.deliverData(p3);
    assert.deepEqual(server.writeTexts, [head + text(p1), text(p2), text(p3)], "pieces byte-exact, in order");
    assertCorkedAround(server, 0, "request body");
    assert.equal(server.written, head + text(concat(p1, p2, p3)));

    server.deliverData(bytes(OK_SMALL));
    assert.deepEqual(r.client.writeTexts, [OK_SMALL]);
    assert.equal(r.host.serverPool.size, 1, "back to the pool");
    assert.equal(server.noDelayCalls.at(-1), true, "pooled with TCP_NODELAY on");
    assert.deepEqual(r.client.noDelayCalls, [true], "the client connection is not touched by a request body");
    hangUp(r);
  });

  test("a chunked request body in three chunks, the head alone first", () => {
    const r = rig();
    const head = "POST /events HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n";
    const c1 = "4\r\nwiki\r\n";
    const c2 = "5\r\npedia\r\n";
    const c3 = "0\r\n\r\n";
    r.client.deliverData(bytes(head));
    const server = onlyServer(r);
    server.deliverOpen();
    assert.deepEqual(server.writeTexts, [head], "no body piece came with it: the head leaves alone");
    assert.deepEqual(server.noDelayCalls, []);
    r.client.deliverData(bytes(c1));
    r.client.deliverData(bytes(c2));
    r.client.deliverData(bytes(c3));
    assert.deepEqual(server.writeTexts, [head, c1, c2, c3]);
    assertCorkedAround(server, 1, "chunked request body");
    hangUp(r);
  });

  test("a request body held while connecting is sent the same way once the connection opens", () => {
    const r = rig();
    const p1 = body(64, 6);
    const p2 = body(64, 7);
    const p3 = body(64, 8);
    const head = postHead(192);
    r.client.deliverData(concat(bytes(head), p1));
    r.client.deliverData(p2);
    const server = onlyServer(r);
    assert.deepEqual(server.writes, []);
    server.deliverOpen();
    r.client.deliverData(p3);
    assert.deepEqual(server.writeTexts, [head + text(p1), text(p2), text(p3)]);
    assertCorkedAround(server, 0, "held request body");
    hangUp(r);
  });

  test("a response body in several chunks (Content-Length), the first with the head", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    r.client.clear();
    const p1 = body(1000, 9);
    const p2 = body(3000, 10);
    const p3 = body(500, 11);
    const p4 = body(1, 12);
    const head = responseHead(4501);
    server.deliverData(concat(bytes(head), p1));
    assert.deepEqual(r.client.writeTexts, [head + text(p1)]);
    assert.deepEqual(r.client.noDelayCalls, [false], "TCP_NODELAY off while the response body is incomplete");
    server.deliverData(p2);
    server.deliverData(p3);
    assert.deepEqual(r.client.noDelayCalls, [false], "turned off once only");
    assert.equal(r.host.serverPool.size, 0, "the response is not over yet");
    server.deliverData(p4);
    assert.deepEqual(r.client.writeTexts, [head + text(p1), text(p2), text(p3), text(p4)]);
    assertCorkedAround(r.client, 0, "response body");
    assert.equal(r.host.serverPool.size, 1, "the server connection went back to the pool");
    assert.deepEqual(server.noDelayCalls, [], "the server connection is not touched by a response body");
    assert.equal(r.client.count("end"), 0, "the client connection is kept alive");
    hangUp(r);
  });

  test("a chunked response body in several chunks, the head alone first", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    r.client.clear();
    const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    const pieces = ["a\r\n0123456789\r\n", "3\r\nabc\r\n", "0\r\n\r\n"];
    server.deliverData(bytes(head));
    assert.deepEqual(r.client.writeTexts, [head]);
    assert.deepEqual(r.client.noDelayCalls, []);
    for (const piece of pieces) server.deliverData(bytes(piece));
    assert.deepEqual(r.client.writeTexts, [head, ...pieces]);
    assertCorkedAround(r.client, 1, "chunked response body");
    assert.equal(r.host.serverPool.size, 1);
    hangUp(r);
  });
});

describe("http-no-delay", () => {
  // What the code does with a route's noDelay: TCP_NODELAY is never turned off (so never turned
  // on again either), on either connection. Head and first body piece are still joined into ONE
  // write: joining bytes already at hand delays nothing (the session's module notes).
  for (const where of ["backend", "frontend"] as const) {
    test(`set on the ${where}: no setNoDelay(false) ever; head and first piece still in one write`, () => {
      const config = where === "backend"
        ? configFor({ backend: { "http-no-delay": true } })
        : configFor({ frontend: { "http-no-delay": true } });
      const r = rig(config);
      const q1 = body(40, 13);
      const q2 = body(40, 14);
      const q3 = body(40, 15);
      const requestHead = postHead(120);
      r.client.deliverData(concat(bytes(requestHead), q1));
      const server = onlyServer(r);
      server.deliverOpen();
      r.client.deliverData(q2);
      r.client.deliverData(q3);
      assert.deepEqual(server.writeTexts, [requestHead + text(q1), text(q2), text(q3)]);
      assert.deepEqual(server.noDelayCalls, [], "the server connection keeps TCP_NODELAY on");

      const s1 = body(70, 16);
      const s2 = body(70, 17);
      const s3 = body(70, 18);
      const head = responseHead(210);
      server.deliverData(concat(bytes(head), s1));
      server.deliverData(s2);
      server.deliverData(s3);
      assert.deepEqual(r.client.writeTexts, [head + text(s1), text(s2), text(s3)]);
      assert.deepEqual(r.client.noDelayCalls, [true], "only the start's setNoDelay(true) on the client");
      assert.equal(r.host.serverPool.size, 1);
      hangUp(r);
    });
  }
});

describe(`joining stops at COALESCE_MAX_BYTES (${COALESCE_MAX_BYTES})`, () => {
  // The default tune.bufsize (16 KiB, minus maxrewrite) cannot hold a head over 16 KiB: raise it.
  const bigBuffers = { tune: { bufsize: 65_536 } };

  test("a request head bigger than COALESCE_MAX_BYTES and its body piece: two writes, head then body", () => {
    const r = rig(configFor({ global: bigBuffers }));
    const padding = "x".repeat(COALESCE_MAX_BYTES + 100);
    const head = postHead(30, `X-Padding: ${padding}\r\n`);
    assert.ok(head.length > COALESCE_MAX_BYTES);
    const payload = body(30, 19);
    r.client.deliverData(concat(bytes(head), payload));
    const server = onlyServer(r);
    server.deliverOpen();
    assert.deepEqual(server.writeTexts, [head, text(payload)]);
    assert.deepEqual(server.noDelayCalls, []);
    hangUp(r);
  });

  test("a response head bigger than COALESCE_MAX_BYTES and its body piece: two writes, head then body", () => {
    const r = rig(configFor({ global: bigBuffers }));
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    r.client.clear();
    const head = responseHead(30, `X-Padding: ${"y".repeat(COALESCE_MAX_BYTES + 1)}\r\n`);
    const payload = body(30, 20);
    server.deliverData(concat(bytes(head), payload));
    assert.deepEqual(r.client.writeTexts, [head, text(payload)]);
    assert.deepEqual(r.client.noDelayCalls, []);
    hangUp(r);
  });

  test("the limit is on head + body: exactly COALESCE_MAX_BYTES is one write, one byte more is two", () => {
    for (const extra of [0, 1]) {
      const r = rig();
      const probe = postHead(10_000);
      // Content-Length keeps its digit count for lengths from 10000 to 99999.
      const length = COALESCE_MAX_BYTES + extra - probe.length;
      assert.ok(length >= 10_000 && length <= 99_999);
      const head = postHead(length);
      assert.equal(head.length, probe.length);
      const payload = body(length, 21);
      r.client.deliverData(concat(bytes(head), payload));
      const server = onlyServer(r);
      server.deliverOpen();
      const expected = extra === 0 ? [head + text(payload)] : [head, text(payload)];
      assert.deepEqual(server.writeTexts, expected, `head + body = ${head.length + length} bytes`);
      hangUp(r);
    }
  });
});

describe("requests without a body", () => {
  test("a GET: one write of the head only; the keep-alive response returns the server connection to the pool uncorked", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    assert.deepEqual(server.writes, []);
    server.deliverOpen();
    assert.deepEqual(server.writeTexts, [GET_HEAD]);
    assert.deepEqual(server.noDelayCalls, []);

    server.deliverData(bytes(OK_SMALL));
    assert.deepEqual(r.client.writeTexts, [OK_SMALL]);
    assert.equal(r.host.serverPool.size, 1, "the server connection is idle in the pool");
    assert.equal(server.handler, r.host.serverPool, "the pool handles it now");
    assert.equal(server.open, true);
    assert.equal(server.count("destroy") + server.count("end"), 0);
    assert.deepEqual(server.noDelayCalls, [], "no setNoDelay(false) left pending on a pooled connection");
    assert.deepEqual(r.client.noDelayCalls, [true]);
    assert.equal(r.client.count("end"), 0, "the client connection is kept alive");

    // The next request takes the pooled connection and is written on it in one write.
    server.clear();
    const second = "GET /second HTTP/1.1\r\nHost: example.com\r\n\r\n";
    r.client.deliverData(bytes(second));
    assert.equal(r.servers.length, 1, "no new connection");
    assert.equal(r.host.serverPool.size, 0);
    assert.deepEqual(server.writeTexts, [second]);
    hangUp(r);
  });
});

describe("answers of http-request rules on a kept-alive connection", () => {
  const PING_RULES = { "http-request": [{ action: "return", status: 200, body: "pong", if: { path: "/ping" } }] };
  const writes = (conn: FakeConnection): string[] =>
    conn.ops.flatMap((op) => (op.kind === "write" ? [text(op.bytes)] : []));

  test("thousands of pipelined requests in one chunk are answered in a loop, not by recursion", () => {
    const r = rig(configFor({ frontend: PING_RULES }));
    const count = 20_000;
    r.client.deliverData(bytes("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".repeat(count)));
    const answers = writes(r.client);
    assert.equal(answers.length, count);
    assert.ok(answers.every((answer) => answer.startsWith("HTTP/1.1 200 OK\r\n") && answer.endsWith("\r\n\r\npong")));
    assert.equal(r.servers.length, 0);
    hangUp(r);
  });

  test("the answer to HEAD is the head alone, with the body's Content-Length", () => {
    const r = rig(configFor({ frontend: PING_RULES }));
    r.client.deliverData(bytes("HEAD /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /ping HTTP/1.1\r\nHost: x\r\n\r\n"));
    const [head, get] = writes(r.client);
    assert.match(head!, /\r\nContent-Length: 4\r\n/);
    assert.ok(head!.endsWith("\r\n\r\n"), "a HEAD answer carries no body");
    assert.ok(get!.endsWith("\r\n\r\npong"));
    hangUp(r);
  });

  test("a client that does not read its answers gets no more until it drains", () => {
    const r = rig(configFor({ frontend: PING_RULES }));
    r.client.writeResult = false;
    r.client.deliverData(bytes("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3)));
    assert.equal(writes(r.client).length, 1, "answered while the first answer was still queued");
    // More requests keep arriving: held, then the client is no longer read.
    r.client.deliverData(bytes("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1_000)));
    assert.equal(writes(r.client).length, 1);
    assert.ok(r.client.count("pause") >= 1, "the client was not paused");
    r.client.writeResult = true;
    r.client.handler!.onDrain(r.client);
    assert.equal(writes(r.client).length, 1_003);
    hangUp(r);
  });
});

describe("an invalid chunked response body", () => {
  const badChunk = "ZZ\r\n";
  const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const clientWrites = (conn: FakeConnection): string[] =>
    conn.ops.flatMap((op) => (op.kind === "write" ? [text(op.bytes)] : []));

  test("in the chunk of its head: the head never leaves, the client gets a 502", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    server.deliverData(bytes(chunkedHead + badChunk));
    const sent = clientWrites(r.client);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.equal(r.client.count("end"), 1);
    assert.equal(r.client.count("destroy"), 0);
    hangUp(r);
  });

  test("after its head left: the client connection is cut", () => {
    const r = rig();
    r.client.deliverData(bytes(GET_HEAD));
    const server = onlyServer(r);
    server.deliverOpen();
    server.deliverData(bytes(chunkedHead + "2\r\nok\r\n"));
    server.deliverData(bytes(badChunk));
    const sent = clientWrites(r.client);
    assert.equal(sent.length, 1);
    assert.match(sent[0]!, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(r.client.count("destroy"), 1);
    r.client.deliverClose();
    assert.deepEqual(r.host.ended, [r.session]);
    r.host.serverPool.closeAll();
    r.host.wheel.close();
  });
});
