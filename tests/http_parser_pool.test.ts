/**
 * Head parsers are taken per exchange and given back between requests (src/http/head_parser_pool.ts):
 * a keep-alive connection waiting for its next request holds none, a parser given back carries
 * nothing of its last message into the next one, and connections whose requests interleave never
 * share one.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HEAD_INCOMPLETE } from "../src/http/head_parser.ts";
import { HeadParserPool, MAX_SPARE_PARSERS } from "../src/http/head_parser_pool.ts";
import { buildHttpFrontendPolicy } from "../src/http/policy.ts";
import { HttpSession } from "../src/http/session.ts";
import { latin1Bytes as bytes } from "./_runtime_helpers.ts";
import { backendOf, configFor, FakeConnection, FakeHost, hangUp, onlyServer, rig } from "./helpers/http_session_rig.ts";

const GET_HEAD = "GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
const OK_SMALL = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

describe("HeadParserPool", () => {
  test("a parser given back is reset and taken again, with the pool's kind and limits", () => {
    const pool = new HeadParserPool("request", { maxHeadBytes: 200, maxHeaderLines: 5 });
    const parser = pool.take();
    assert.equal(parser.kind, "request");
    assert.equal(parser.maxHeadBytes, 200);
    assert.equal(parser.maxHeaderLines, 5);
    const head = bytes("POST /a HTTP/1.0\r\nX-One: 1\r\nContent-Length: 3\r\n\r\n");
    assert.equal(parser.feed(head), head.length);
    assert.equal(parser.headerCount, 2);

    pool.giveBack(parser);
    assert.equal(pool.spareCount, 1);
    const again = pool.take();
    assert.equal(again, parser, "the spare is reused");
    assert.equal(pool.spareCount, 0);
    assert.equal(again.complete, false);
    assert.equal(again.method, "");
    assert.equal(again.headerCount, 0);
    assert.equal(again.contentLength, undefined);
    // A partial head from before would make this one fail or mix: it must parse on its own.
    const next = bytes("GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    assert.equal(again.feed(next), next.length);
    assert.deepEqual([again.method, again.target, again.version, again.headers()], ["GET", "/b", "1.1", [["Host", "h"]]]);
  });

  test("a parser given back in the middle of a head starts the next one clean", () => {
    const pool = new HeadParserPool("request", {});
    const parser = pool.take();
    assert.equal(parser.feed(bytes("GET /half HTTP/1.1\r\nX-Par")), HEAD_INCOMPLETE);
    pool.giveBack(parser);
    const again = pool.take();
    const head = bytes("GET /whole HTTP/1.1\r\nHost: h\r\n\r\n");
    assert.equal(again.feed(head), head.length);
    assert.equal(again.target, "/whole");
    assert.deepEqual(again.headers(), [["Host", "h"]]);
  });

  test(`at most ${MAX_SPARE_PARSERS} spares are kept`, () => {
    const pool = new HeadParserPool("response", {});
    const taken = Array.from({ length: MAX_SPARE_PARSERS + 10 }, () => pool.take());
    for (const parser of taken) pool.giveBack(parser);
    assert.equal(pool.spareCount, MAX_SPARE_PARSERS);
  });
});

describe("an http session takes its parsers per exchange", () => {
  test("a kept-alive connection between requests holds no parser", () => {
    const r = rig();
    const requests = r.policy.requestParsers;
    const responses = r.policy.responseParsers;
    assert.equal(requests.spareCount + responses.spareCount, 0, "nothing is taken before the first byte");

    r.client.deliverData(bytes(GET_HEAD.slice(0, 10)));
    assert.equal(requests.spareCount, 0);
    r.client.deliverData(bytes(GET_HEAD.slice(10)));
    const server = onlyServer(r);
    server.deliverOpen();
    server.deliverData(bytes(OK_SMALL));
    assert.equal(r.client.written, OK_SMALL);
    assert.equal(requests.spareCount, 1, "the request parser is back once the response is over");
    assert.equal(responses.spareCount, 1, "and the response parser");

    // The next request takes them again, and gives them back again.
    r.client.clear();
    r.client.deliverData(bytes(GET_HEAD));
    assert.equal(requests.spareCount, 0);
    assert.equal(responses.spareCount, 0);
    server.deliverData(bytes(OK_SMALL));
    assert.equal(r.client.written, OK_SMALL);
    assert.equal(requests.spareCount, 1);
    assert.equal(responses.spareCount, 1);
    hangUp(r);
  });

  test("a request answered by a rule gives its parser back, and the pipelined request behind it parses", () => {
    const r = rig(configFor({ frontend: { "http-request": [{ action: "return", status: 200, body: "hi", if: { "path-prefix": "/local" } }] } }));
    const requests = r.policy.requestParsers;
    const local = "GET /local HTTP/1.1\r\nHost: example.com\r\n\r\n";
    r.client.deliverData(bytes(local + local + GET_HEAD));
    assert.match(r.client.written, /^HTTP\/1\.1 200 [^]*\r\n\r\nhiHTTP\/1\.1 200 [^]*\r\n\r\nhi$/);
    const server = onlyServer(r);
    server.deliverOpen();
    assert.match(server.written, /^GET \/index\.html HTTP\/1\.1\r\n/);
    assert.equal(requests.spareCount, 0, "the forwarded request holds one");
    server.deliverData(bytes(OK_SMALL));
    assert.equal(requests.spareCount, 1, "one parser served all three requests");
    hangUp(r);
  });

  test("connections whose requests interleave each parse their own", () => {
    const config = configFor();
    const host = new FakeHost();
    const frontend = config.frontends[0]!;
    const byName = new Map(config.backends.map((backend) => [backend.name, { backend: backendOf(backend), config: backend }]));
    const policy = buildHttpFrontendPolicy(frontend, byName, config.global.tune);
    const clients = [0, 1].map((n) => {
      const client = new FakeConnection(
        { address: `192.0.2.${10 + n}`, port: 50_000, family: 4 },
        { address: "127.0.0.1", port: 8_080, family: 4 },
        true,
      );
      new HttpSession(host, policy).start(client, frontend.timeouts);
      return client;
    });
    const first = "GET /first HTTP/1.1\r\nHost: one.example\r\nX-Who: first\r\n\r\n";
    const second = "GET /second HTTP/1.1\r\nHost: two.example\r\n\r\n";
    // The first connection's head is half there while the second one's exchange runs whole.
    clients[0]!.deliverData(bytes(first.slice(0, 30)));
    clients[1]!.deliverData(bytes(second));
    const [secondServer] = host.fakeRuntime.servers;
    secondServer!.deliverOpen();
    secondServer!.deliverData(bytes(OK_SMALL));
    assert.equal(clients[1]!.written, OK_SMALL);
    assert.equal(policy.requestParsers.spareCount, 1, "the second connection gave its parser back");
    // The first connection's head completes: nothing of the second request is in it.
    clients[0]!.deliverData(bytes(first.slice(30)));
    const firstServer = host.fakeRuntime.servers.at(-1)!;
    if (firstServer !== secondServer) firstServer.deliverOpen();
    assert.match(firstServer.written, /GET \/first HTTP\/1\.1\r\nHost: one\.example\r\nX-Who: first\r\n/);
    assert.doesNotMatch(firstServer.written.slice(firstServer.written.indexOf("GET /first")), /two\.example|\/second/);
    firstServer.deliverData(bytes(OK_SMALL));
    assert.equal(clients[0]!.written, OK_SMALL);
    assert.equal(policy.requestParsers.spareCount, 2, "both parsers are back, one per connection that held one at once");
    for (const client of clients) {
      client.deliverEnd();
      client.deliverClose();
    }
    assert.equal(host.ended.length, 2);
    host.serverPool.closeAll();
    host.wheel.close();
  });
});
