/**
 * The PROXY protocol header sent to servers, decoded by hand from doc/proxy-protocol.txt's layout.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { addressBytes, commonName, encodeCheckProxyHeader, encodeProxyV1, encodeProxyV2, encodeProxyV2Local } from "../src/proxy_protocol/encode.ts";
import type { NetAddr, TlsFacts } from "../src/runtime/types.ts";

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const v4 = (address: string, port: number): NetAddr => ({ address, port, family: 4 });
const v6 = (address: string, port: number): NetAddr => ({ address, port, family: 6 });

const TLS: TlsFacts = {
  version: "TLSv1.3",
  cipher: "TLS_AES_128_GCM_SHA256",
  serverName: "www.example.com",
  alpn: "http/1.1",
  peerCertificate: "valid",
  peerSubject: "/CN=client one/O=Test Clients",
  peerError: "",
  resumed: false,
};

/** The TLVs after the address block, as [type, value] pairs. */
function tlvs(bytes: Uint8Array, from: number): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  let at = from;
  while (at < bytes.length) {
    const length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    out.push([bytes[at]!, bytes.subarray(at + 3, at + 3 + length)]);
    at += 3 + length;
  }
  assert.equal(at, bytes.length, "the TLVs end exactly at the header's end");
  return out;
}

test("v1: TCP4 and TCP6 lines, UNKNOWN when the families differ or an address is missing", () => {
  assert.equal(text(encodeProxyV1(v4("192.0.2.1", 56324), v4("198.51.100.7", 443))), "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
  assert.equal(text(encodeProxyV1(v6("2001:DB8::1", 1), v6("::1", 80))), "PROXY TCP6 2001:db8::1 ::1 1 80\r\n");
  assert.equal(text(encodeProxyV1(v4("192.0.2.1", 1), v6("::1", 80))), "PROXY UNKNOWN\r\n");
  assert.equal(text(encodeProxyV1(null, v4("192.0.2.1", 1))), "PROXY UNKNOWN\r\n");
});

test("v2: the LOCAL header is the signature, 0x20, UNSPEC and a zero length", () => {
  assert.deepEqual([...encodeProxyV2Local()], [...SIGNATURE, 0x20, 0x00, 0x00, 0x00]);
});

test("v2: an IPv4 connection without TLS is PROXY, TCP4 over STREAM, 12 address bytes", () => {
  const bytes = encodeProxyV2(v4("192.0.2.1", 0xdc04), v4("198.51.100.7", 443), undefined, { ssl: false, sslCn: false });
  assert.deepEqual([...bytes.subarray(0, 12)], SIGNATURE);
  assert.equal(bytes[12], 0x21);
  assert.equal(bytes[13], 0x11);
  assert.equal((bytes[14]! << 8) | bytes[15]!, 12);
  assert.deepEqual([...bytes.subarray(16)], [192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb]);
});

test("v2: IPv6, and IPv4 beside IPv6 mapped into IPv6", () => {
  const bytes = encodeProxyV2(v6("2001:db8::1", 1), v4("127.0.0.1", 2), undefined, { ssl: false, sslCn: false });
  assert.equal(bytes[13], 0x21);
  assert.equal((bytes[14]! << 8) | bytes[15]!, 36);
  assert.deepEqual([...bytes.subarray(16, 32)], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...bytes.subarray(32, 48)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
  assert.deepEqual([...bytes.subarray(48, 52)], [0, 1, 0, 2]);
});

test("v2: a missing address makes the command LOCAL with no address block", () => {
  const bytes = encodeProxyV2(null, v4("127.0.0.1", 2), undefined, { ssl: false, sslCn: false });
  assert.deepEqual([...bytes.subarray(12)], [0x20, 0x00, 0x00, 0x00]);
});

test("v2: ALPN and AUTHORITY come from the client's handshake; SSL with version and CN when asked", () => {
  const bytes = encodeProxyV2(v4("10.0.0.1", 1000), v4("10.0.0.2", 443), TLS, { ssl: true, sslCn: true });
  const length = (bytes[14]! << 8) | bytes[15]!;
  assert.equal(bytes.length, 16 + length);
  const found = tlvs(bytes, 16 + 12);
  assert.deepEqual(found.map(([type]) => type), [0x01, 0x02, 0x20]);
  assert.equal(text(found[0]![1]), "http/1.1");
  assert.equal(text(found[1]![1]), "www.example.com");
  const ssl = found[2]![1];
  assert.equal(ssl[0], 0x01 | 0x02 | 0x04, "client: SSL, certificate on this connection and session");
  assert.deepEqual([...ssl.subarray(1, 5)], [0, 0, 0, 0], "verify: 0 for a verified certificate");
  const sub = tlvs(ssl, 5);
  assert.deepEqual(sub.map(([type]) => type), [0x21, 0x22]);
  assert.equal(text(sub[0]![1]), "TLSv1.3");
  assert.equal(text(sub[1]![1]), "client one");
});

test("v2: the SSL TLV of a plain client says no SSL and a non-zero verify; no CN without a certificate", () => {
  const plain = encodeProxyV2(v4("10.0.0.1", 1), v4("10.0.0.2", 2), undefined, { ssl: true, sslCn: true });
  assert.deepEqual(tlvs(plain, 28), [[0x20, Uint8Array.of(0, 0, 0, 0, 1)]]);
  const noCert = encodeProxyV2(v4("10.0.0.1", 1), v4("10.0.0.2", 2), { ...TLS, alpn: "", serverName: "", peerCertificate: "none", peerSubject: "" }, { ssl: true, sslCn: true });
  const [[type, ssl]] = tlvs(noCert, 28) as [[number, Uint8Array]];
  assert.equal(type, 0x20);
  assert.equal(ssl[0], 0x01);
  assert.deepEqual([...ssl.subarray(1, 5)], [0, 0, 0, 1]);
  assert.deepEqual(tlvs(ssl, 5).map(([sub]) => sub), [0x21]);
});

test("v2: without ssl, no SSL TLV even for a TLS client", () => {
  const bytes = encodeProxyV2(v4("10.0.0.1", 1), v4("10.0.0.2", 2), TLS, { ssl: false, sslCn: false });
  assert.deepEqual(tlvs(bytes, 28).map(([type]) => type), [0x01, 0x02]);
});

test("a check's header: v1 with the check connection's addresses, or UNKNOWN before it is made (towards TLS); v2 always LOCAL", () => {
  const check = { local: v4("10.0.0.5", 40000), remote: v4("10.0.0.11", 443) };
  assert.equal(text(encodeCheckProxyHeader(1, check)), "PROXY TCP4 10.0.0.5 10.0.0.11 40000 443\r\n");
  assert.equal(text(encodeCheckProxyHeader(1, null)), "PROXY UNKNOWN\r\n");
  assert.deepEqual([...encodeCheckProxyHeader(2, check)], [...encodeProxyV2Local()]);
  assert.deepEqual([...encodeCheckProxyHeader(2, null)], [...encodeProxyV2Local()]);
});

test("addresses as bytes: IPv4, IPv6 with ::, embedded IPv4, zones; nonsense refused", () => {
  assert.deepEqual([...addressBytes("10.1.2.3")!], [10, 1, 2, 3]);
  assert.deepEqual([...addressBytes("::")!], new Array(16).fill(0));
  assert.deepEqual([...addressBytes("::ffff:1.2.3.4")!], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]);
  assert.deepEqual([...addressBytes("fe80::1%eth0")!], [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual([...addressBytes("1:2:3:4:5:6:7:8")!], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  for (const bad of ["256.0.0.1", "1.2.3", "1::2::3", "1:2:3:4:5:6:7:8:9", "gggg::1", "localhost"]) {
    assert.equal(addressBytes(bad), null, bad);
  }
});

test("commonName reads CN from OpenSSL's one-line subject", () => {
  assert.equal(commonName("/CN=client one/O=Test Clients"), "client one");
  assert.equal(commonName("/O=Test/CN=x"), "x");
  assert.equal(commonName("/O=Test"), "");
});
