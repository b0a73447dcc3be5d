/** The PROXY protocol header parser (src/proxy_protocol/parse.ts): v1, v2, TLVs, splits, bad input. */

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseProxyHeader, PROXY_HEADER_ERROR_TEXT, ProxyHeaderParser } from "../src/proxy_protocol/parse.ts";
import type { ProxyParseResult } from "../src/proxy_protocol/parse.ts";
import { concat, ipv4Block, ipv6Block, sslValue, v1Header, v2Header } from "./_proxy_header_helpers.ts";

const REQUEST = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n");

function header(result: ProxyParseResult) {
  assert.equal(result.kind, "header", JSON.stringify(result));
  if (result.kind !== "header") throw new Error("unreachable");
  return result;
}

function errorCode(result: ProxyParseResult): string {
  assert.equal(result.kind, "error", JSON.stringify(result));
  return result.kind === "error" ? result.code : "";
}

/** Feeds `bytes` cut at every position in `cuts` (a split header must read the same). */
function feedSplit(bytes: Uint8Array, cuts: number[], maxV2Length?: number): ProxyParseResult {
  const parser = new ProxyHeaderParser(maxV2Length);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    const result = parser.push(bytes.subarray(from, cut));
    from = cut;
    if (result.kind !== "more") {
      if (result.kind === "header") return { ...result, rest: concat(result.rest, bytes.subarray(from)) };
      return result;
    }
  }
  return parser.end();
}

test("v1 TCP4: addresses, ports and the bytes after the line", () => {
  const bytes = concat(v1Header("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"), REQUEST);
  const { header: h, rest } = header(parseProxyHeader(bytes));
  assert.equal(h.version, 1);
  assert.equal(h.command, "proxy");
  assert.deepEqual(h.source, { address: "192.0.2.10", port: 56324, family: 4 });
  assert.deepEqual(h.destination, { address: "198.51.100.1", port: 443, family: 4 });
  assert.equal(h.length, 46);
  assert.deepEqual(rest, REQUEST);
});

test("v1 TCP6: addresses in the runtime's compressed form", () => {
  const { header: h } = header(parseProxyHeader(v1Header("PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 65535\r\n")));
  assert.deepEqual(h.source, { address: "2001:db8::1", port: 1, family: 6 });
  assert.deepEqual(h.destination, { address: "::1", port: 65535, family: 6 });
  const mapped = header(parseProxyHeader(v1Header("PROXY TCP6 ::ffff:192.0.2.1 ::ffff:c000:202 80 81\r\n"))).header;
  assert.equal(mapped.source!.address, "::ffff:192.0.2.1");
  assert.equal(mapped.destination!.address, "::ffff:192.0.2.2");
});

test("v1 UNKNOWN: no address, whatever follows up to the CRLF ignored", () => {
  for (const line of ["PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"]) {
    const { header: h, rest } = header(parseProxyHeader(concat(v1Header(line), REQUEST)));
    assert.equal(h.source, null);
    assert.equal(h.destination, null);
    assert.deepEqual(rest, REQUEST);
  }
});

test("v1 worst case: 107 bytes is accepted, one more is not", () => {
  const longest = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
  assert.equal(longest.length, 104);
  header(parseProxyHeader(v1Header(longest)));
  const unknown107 = "PROXY UNKNOWN " + "x".repeat(107 - 16) + "\r\n";
  assert.equal(unknown107.length, 107);
  header(parseProxyHeader(v1Header(unknown107)));
  const unknown108 = "PROXY UNKNOWN " + "x".repeat(108 - 16) + "\r\n";
  assert.equal(errorCode(parseProxyHeader(v1Header(unknown108))), "bad-header");
  // No CRLF at all: refused once 107 bytes are in, without waiting for the connection to end.
  const parser = new ProxyHeaderParser();
  assert.equal(parser.push(v1Header("PROXY UNKNOWN " + "y".repeat(92))).kind, "more");
  assert.equal(errorCode(parser.push(v1Header("y"))), "bad-header");
});

test("v1 malformed lines", () => {
  const cases: Array<[string, string]> = [
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", "bad-header"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n", "bad-header"],
    ["PROXY TCP4 192.0.2.256 192.0.2.2 1 2\r\n", "bad-header"],
    ["PROXY TCP4 ::1 192.0.2.2 1 2\r\n", "bad-header"],
    ["PROXY TCP6 192.0.2.1 ::1 1 2\r\n", "bad-header"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", "bad-header"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 -1 2\r\n", "bad-header"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n", "bad-header"],
    ["PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n", "bad-header"],
    ["PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", "bad-header"],
    ["PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n", "bad-protocol"],
    ["PROXY \r\n", "bad-protocol"],
  ];
  for (const [line, code] of cases) assert.equal(errorCode(parseProxyHeader(v1Header(line))), code, line);
});

test("v2 PROXY over IPv4 with ALPN, authority, unique id and SSL TLVs", () => {
  const bytes = concat(v2Header({
    family: 0x11,
    addresses: ipv4Block([192, 0, 2, 10], [198, 51, 100, 1], 56324, 443),
    tlvs: [
      [0x01, [...new TextEncoder().encode("h2")]],
      [0x02, [...new TextEncoder().encode("www.example.com")]],
      [0x05, [...new TextEncoder().encode("id-1")]],
      [0x20, sslValue(0x07, 0, [[0x21, "TLSv1.3"], [0x22, "client.example"], [0x23, "TLS_AES_128_GCM_SHA256"]])],
      [0x04, [0, 0, 0]],
      [0xe0, [1, 2]],
    ],
  }), REQUEST);
  const { header: h, rest } = header(parseProxyHeader(bytes));
  assert.equal(h.version, 2);
  assert.equal(h.command, "proxy");
  assert.deepEqual(h.source, { address: "192.0.2.10", port: 56324, family: 4 });
  assert.deepEqual(h.destination, { address: "198.51.100.1", port: 443, family: 4 });
  assert.equal(h.alpn, "h2");
  assert.equal(h.authority, "www.example.com");
  assert.equal(h.uniqueId, "id-1");
  assert.equal(h.ssl!.client, 0x07);
  assert.equal(h.ssl!.verify, 0);
  assert.equal(h.ssl!.version, "TLSv1.3");
  assert.equal(h.ssl!.commonName, "client.example");
  assert.equal(h.ssl!.cipher, "TLS_AES_128_GCM_SHA256");
  assert.deepEqual(h.tlvs.map((t) => t.type), [0x01, 0x02, 0x05, 0x20, 0x04, 0xe0]);
  assert.deepEqual([...h.tlvs[5]!.value], [1, 2]);
  assert.deepEqual(rest, REQUEST);
});

test("v2 PROXY over IPv6", () => {
  const source = [0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 0x05];
  const destination = [...new Array<number>(15).fill(0), 1];
  const { header: h } = header(parseProxyHeader(v2Header({ family: 0x21, addresses: ipv6Block(source, destination, 40000, 8443) })));
  assert.deepEqual(h.source, { address: "2001:db8::5", port: 40000, family: 6 });
  assert.deepEqual(h.destination, { address: "::1", port: 8443, family: 6 });
});

test("v2 LOCAL and UNSPEC: no address (the connection's own), TLVs still read, address block skipped", () => {
  const local = header(parseProxyHeader(v2Header({ command: 0, family: 0x00, tlvs: [[0x02, [0x61]]] }))).header;
  assert.equal(local.command, "local");
  assert.equal(local.source, null);
  assert.equal(local.authority, "a");
  const localWithBlock = header(parseProxyHeader(v2Header({ command: 0, family: 0x11, addresses: ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) }))).header;
  assert.equal(localWithBlock.source, null);
  const unspec = header(parseProxyHeader(v2Header({ command: 1, family: 0x00 }))).header;
  assert.equal(unspec.command, "proxy");
  assert.equal(unspec.destination, null);
  const unix = header(parseProxyHeader(v2Header({ command: 1, family: 0x31, addresses: new Array<number>(216).fill(0) }))).header;
  assert.equal(unix.source, null);
});

test("every header reads the same split at every byte, and fed one byte at a time", () => {
  const headers = [
    concat(v1Header("PROXY TCP4 192.0.2.10 198.51.100.1 56324 443\r\n"), REQUEST),
    concat(v2Header({ addresses: ipv4Block([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80), tlvs: [[0x02, [0x61, 0x62]], [0x20, sslValue(1, 0, [[0x22, "cn"]])]] }), REQUEST),
    concat(v2Header({ command: 0, family: 0 }), REQUEST),
  ];
  for (const bytes of headers) {
    const whole = header(parseProxyHeader(bytes));
    for (let cut = 1; cut < bytes.length; cut++) {
      const split = header(feedSplit(bytes, [cut]));
      assert.deepEqual(split.header, whole.header, `cut at ${cut}`);
      assert.deepEqual(split.rest, REQUEST, `cut at ${cut}`);
    }
    const oneByOne = header(feedSplit(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)));
    assert.deepEqual(oneByOne.header, whole.header);
    assert.deepEqual(oneByOne.rest, REQUEST);
  }
});

test("truncated headers: the end of the connection says truncated, or empty before any byte", () => {
  const full = v2Header({ addresses: ipv4Block([10, 0, 0, 1], [10, 0, 0, 2], 1000, 80) });
  for (const bytes of [full.subarray(0, 5), full.subarray(0, 14), full.subarray(0, full.length - 1), v1Header("PROXY TCP4 1.2.3.4")]) {
    const parser = new ProxyHeaderParser();
    assert.equal(parser.push(bytes).kind, "more");
    assert.equal(errorCode(parser.end()), "truncated");
  }
  assert.equal(errorCode(new ProxyHeaderParser().end()), "empty");
  assert.equal(errorCode(new ProxyHeaderParser().end("timeout")), "timeout");
  assert.equal(errorCode(new ProxyHeaderParser().end("error")), "abort");
});

test("no header: an HTTP request or TLS ClientHello is refused at its first byte", () => {
  assert.equal(errorCode(parseProxyHeader(REQUEST)), "not-header");
  assert.equal(errorCode(parseProxyHeader(new Uint8Array([0x16, 0x03, 0x01]))), "not-header");
  // Diverging late: "PROXX", or the v2 signature broken at its last byte.
  assert.equal(errorCode(parseProxyHeader(v1Header("PROXX TCP4"))), "not-header");
  const broken = v2Header();
  broken[11] = 0x0b;
  assert.equal(errorCode(parseProxyHeader(broken)), "not-header");
  assert.equal(errorCode(parseProxyHeader(v1Header("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n"))), "not-header");
});

test("v2 malformed: version, command, family, transport, lengths, TLVs", () => {
  const block = ipv4Block([10, 0, 0, 1], [10, 0, 0, 2], 1, 2);
  assert.equal(errorCode(parseProxyHeader(v2Header({ version: 1, addresses: block }))), "bad-header");
  assert.equal(errorCode(parseProxyHeader(v2Header({ command: 2, addresses: block }))), "bad-header");
  assert.equal(errorCode(parseProxyHeader(v2Header({ family: 0x41, addresses: block }))), "bad-protocol");
  assert.equal(errorCode(parseProxyHeader(v2Header({ family: 0x12, addresses: block }))), "bad-protocol");
  assert.equal(errorCode(parseProxyHeader(v2Header({ family: 0x11, addresses: block.slice(0, 8) }))), "bad-header");
  assert.equal(errorCode(parseProxyHeader(v2Header({ family: 0x21, addresses: block }))), "bad-header");
  // A TLV claiming more bytes than the header has.
  assert.equal(errorCode(parseProxyHeader(v2Header({ addresses: [...block, 0x02, 0x00, 0x09, 0x61] }))), "bad-header");
  assert.equal(errorCode(parseProxyHeader(v2Header({ addresses: [...block, 0x02, 0x00] }))), "bad-header");
  // An SSL TLV shorter than its fixed part, or with a broken sub-TLV.
  assert.equal(errorCode(parseProxyHeader(v2Header({ addresses: block, tlvs: [[0x20, [1, 0, 0]]] }))), "bad-header");
  assert.equal(errorCode(parseProxyHeader(v2Header({ addresses: block, tlvs: [[0x20, [1, 0, 0, 0, 0, 0x22, 0, 5]]] }))), "bad-header");
});

test("v2 length over the limit is refused from the preamble alone", () => {
  const parser = new ProxyHeaderParser(100);
  const preamble = v2Header({ length: 101 }).subarray(0, 16);
  assert.equal(errorCode(parser.push(preamble)), "too-long");
  assert.equal(header(parseProxyHeader(v2Header({ tlvs: [[0x04, new Array<number>(97).fill(0)]], family: 0 }), 100)).header.length, 116);
  assert.equal(errorCode(parseProxyHeader(v2Header({ length: 65535 }))), "too-long");
});

test("garbage never throws, and a finished parser stays finished", () => {
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const prefixes = [v2Header().subarray(0, 12), v1Header("PROXY "), new Uint8Array(0)];
  for (let round = 0; round < 2000; round++) {
    const noise = new Uint8Array(random() % 300).map(() => random() & 0xff);
    const bytes = concat(prefixes[round % 3]!, noise);
    const parser = new ProxyHeaderParser(200);
    let result: ProxyParseResult = { kind: "more" };
    for (let at = 0; at < bytes.length && result.kind === "more"; at += 1 + (random() % 40)) {
      result = parser.push(bytes.subarray(at, at + 1 + (random() % 40)));
    }
    if (result.kind === "more") result = parser.end();
    assert.ok(result.kind === "header" || result.kind === "error");
  }
  const parser = new ProxyHeaderParser();
  header(parser.push(v1Header("PROXY UNKNOWN\r\n")));
  assert.equal(parser.push(REQUEST).kind, "error");
});

test("the log texts are HAProxy's", () => {
  assert.equal(PROXY_HEADER_ERROR_TEXT["not-header"], "Received something which does not look like a PROXY protocol header");
  assert.equal(PROXY_HEADER_ERROR_TEXT.timeout, "Timeout while waiting for PROXY protocol header");
  assert.equal(PROXY_HEADER_ERROR_TEXT.truncated, "Truncated PROXY protocol header received");
});
