/**
 * X-Forwarded-For / -Proto / -Host: CIDR parsing and matching, how a frontend's and a backend's
 * settings combine, and the headers built for a request.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { cidrContains, parseCidr, unmapAddress } from "../src/core/cidr.ts";
import type { Cidr } from "../src/core/cidr.ts";
import { combineForwardedHeaders, forwardedHeaders, forwardForValue, NO_FORWARDED_HEADERS } from "../src/http/forwarded_headers.ts";
import type { ForwardedHeadersConfig } from "../src/config/types.ts";
import { HeadParser } from "../src/http/head_parser.ts";
import { serializeHead } from "../src/http/serialize.ts";

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === "string") throw new Error(`${text}: ${parsed}`);
  return parsed;
}

describe("CIDR", () => {
  test("IPv4 networks, host bits cleared", () => {
    const net = cidr("10.1.2.3/8");
    assert.deepEqual([net.family, [...net.bytes], net.prefix], [4, [10, 0, 0, 0], 8]);
    assert.equal(cidrContains(net, "10.255.0.1"), true);
    assert.equal(cidrContains(net, "11.0.0.1"), false);
    const nine = cidr("10.0.0.0/9");
    assert.equal(cidrContains(nine, "10.127.255.255"), true);
    assert.equal(cidrContains(nine, "10.128.0.0"), false);
  });

  test("prefix edge cases: /0, /32, no prefix, /128", () => {
    assert.equal(cidrContains(cidr("0.0.0.0/0"), "203.0.113.9"), true);
    assert.equal(cidrContains(cidr("0.0.0.0/0"), "::1"), false);
    assert.equal(cidrContains(cidr("192.0.2.7/32"), "192.0.2.7"), true);
    assert.equal(cidrContains(cidr("192.0.2.7/32"), "192.0.2.6"), false);
    assert.equal(cidr("192.0.2.7").prefix, 32);
    assert.equal(cidrContains(cidr("::/0"), "2001:db8::1"), true);
    assert.equal(cidrContains(cidr("::1/128"), "::1"), true);
    assert.equal(cidrContains(cidr("::1/128"), "::2"), false);
    assert.equal(cidr("::1").prefix, 128);
  });

  test("IPv6 networks and addresses", () => {
    const net = cidr("2001:db8::/32");
    assert.equal(net.family, 6);
    assert.equal(cidrContains(net, "2001:db8:ffff::1"), true);
    assert.equal(cidrContains(net, "2001:0DB8::"), true);
    assert.equal(cidrContains(net, "2001:db9::1"), false);
    assert.equal(cidrContains(net, "10.0.0.1"), false);
    assert.equal(cidrContains(cidr("fe80::/10"), "fe80::1%eth0"), true);
    assert.deepEqual([...cidr("1:2:3:4:5:6:7:8").bytes], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
    assert.deepEqual([...cidr("1::8").bytes], [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8]);
  });

  test("IPv4-mapped IPv6 client addresses match IPv4 networks and show as IPv4", () => {
    assert.equal(cidrContains(cidr("127.0.0.0/8"), "::ffff:127.0.0.1"), true);
    assert.equal(cidrContains(cidr("127.0.0.0/8"), "::FFFF:127.1.2.3"), true);
    assert.equal(cidrContains(cidr("127.0.0.0/8"), "::ffff:128.0.0.1"), false);
    assert.equal(cidrContains(cidr("127.0.0.0/8"), "::1"), false);
    assert.equal(cidrContains(cidr("::ffff:0:0/96"), "::ffff:10.0.0.1"), true);
    assert.equal(unmapAddress("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(unmapAddress("::1"), "::1");
    assert.equal(unmapAddress("192.0.2.1"), "192.0.2.1");
  });

  test("invalid networks are refused with a reason", () => {
    for (const text of ["", "10.0.0", "10.0.0.256", "010.0.0.1", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08",
      "::/129", "1:::2", "1::2::3", "1:2:3:4:5:6:7:8:9", ":1::", "1::2:", "g::1", "localhost", "10.0.0.0/8 "]) {
      assert.equal(typeof parseCidr(text), "string", text);
    }
    assert.equal(parseCidr("10.0.0.0/33"), "the prefix length must be an integer from 0 to 32");
    assert.equal(parseCidr("::/129"), "the prefix length must be an integer from 0 to 128");
    assert.equal(cidrContains(cidr("10.0.0.0/8"), "not-an-address"), false);
  });
});

const OFF: ForwardedHeadersConfig = { forwardFor: null, forwardedProto: false, forwardedHost: false };
const XFF = { except: null, header: "X-Forwarded-For", ifNone: false };

function parse(text: string): HeadParser {
  const parser = new HeadParser("request");
  const end = parser.feed(new TextEncoder().encode(text), 0);
  assert.ok(end > 0, "head parsed");
  return parser;
}

describe("combining a frontend and a backend", () => {
  test("off unless either side enables a header", () => {
    assert.equal(combineForwardedHeaders(OFF, OFF), NO_FORWARDED_HEADERS);
    assert.equal(combineForwardedHeaders({ ...OFF, forwardFor: XFF }, OFF).forwardFor?.header, "X-Forwarded-For");
    assert.equal(combineForwardedHeaders(OFF, { ...OFF, forwardFor: XFF }).forwardFor?.header, "X-Forwarded-For");
    assert.equal(combineForwardedHeaders({ ...OFF, forwardedProto: true }, OFF).proto, true);
    assert.equal(combineForwardedHeaders(OFF, { ...OFF, forwardedHost: true }).host, true);
  });

  test("the backend's header name wins, either side's except applies, if-none needs both", () => {
    const rules = combineForwardedHeaders(
      { ...OFF, forwardFor: { except: cidr("10.0.0.0/8"), header: "X-Front", ifNone: true } },
      { ...OFF, forwardFor: { except: cidr("::1"), header: "X-Back", ifNone: false } },
    );
    assert.equal(rules.forwardFor?.header, "X-Back");
    assert.equal(rules.forwardFor?.ifNone, false);
    assert.equal(forwardForValue(rules, "10.1.1.1"), null);
    assert.equal(forwardForValue(rules, "::1"), null);
    assert.equal(forwardForValue(rules, "::ffff:192.0.2.1"), "192.0.2.1");
    const frontOnly = combineForwardedHeaders({ ...OFF, forwardFor: { ...XFF, header: "X-Front", ifNone: true } }, OFF);
    assert.equal(frontOnly.forwardFor?.header, "X-Front");
    assert.equal(frontOnly.forwardFor?.ifNone, true);
  });
});

describe("headers added to a request", () => {
  test("X-Forwarded-For is a new line after the existing ones; Proto and Host follow", () => {
    const rules = combineForwardedHeaders({ forwardFor: XFF, forwardedProto: true, forwardedHost: true }, OFF);
    const request = parse("GET / HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 198.51.100.1\r\nAccept: */*\r\n\r\n");
    const out: string[] = [];
    const added = forwardedHeaders(rules, request, forwardForValue(rules, "::ffff:127.0.0.1"), request.host, false, out);
    assert.equal(added, out);
    assert.deepEqual(out, ["X-Forwarded-For", "127.0.0.1", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "example.test"]);
    assert.equal(
      new TextDecoder().decode(serializeHead(request, { addHeaders: added })),
      "GET / HTTP/1.1\r\nHost: example.test\r\nX-Forwarded-For: 198.51.100.1\r\nAccept: */*\r\n" +
        "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: example.test\r\n\r\n",
    );
  });

  test("if-none skips a request that has the header (any case); except skips the client", () => {
    const rules = combineForwardedHeaders({ ...OFF, forwardFor: { except: cidr("127.0.0.0/8"), header: "X-Real-Client", ifNone: true } }, OFF);
    const out: string[] = ["stale"];
    const withHeader = parse("GET / HTTP/1.1\r\nHost: a\r\nx-real-client: 1.2.3.4\r\n\r\n");
    assert.equal(forwardedHeaders(rules, withHeader, "192.0.2.1", withHeader.host, false, out), undefined);
    assert.deepEqual(out, []);
    const without = parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert.deepEqual(forwardedHeaders(rules, without, "192.0.2.1", without.host, false, out), ["X-Real-Client", "192.0.2.1"]);
    assert.equal(forwardForValue(rules, "127.0.0.1"), null);
    assert.equal(forwardedHeaders(rules, without, forwardForValue(rules, "127.0.0.1"), without.host, false, out), undefined);
  });

  test("no X-Forwarded-Host without a Host", () => {
    const rules = combineForwardedHeaders({ ...OFF, forwardedHost: true }, OFF);
    const request = parse("GET / HTTP/1.0\r\n\r\n");
    assert.equal(forwardedHeaders(rules, request, null, request.host, false, []), undefined);
  });
});
