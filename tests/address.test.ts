import { test } from "node:test";
import assert from "node:assert/strict";
import {
  AddressError,
  ipFamily,
  isIpLiteral,
  parseBindAddress,
  parseServerAddress,
  splitList,
} from "../src/config/address.ts";

/** Asserts that `parse(text)` throws an AddressError with exactly `message`. */
function assertAddressError(parse: (text: string) => unknown, text: string, message: string): void {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof AddressError, `expected an AddressError for "${text}"`);
      assert.ok(error instanceof Error);
      assert.equal(error.code, "ADDRESS_INVALID");
      assert.equal(error.name, "AddressError");
      assert.equal(error.message, message);
      return true;
    },
  );
}

test("address: bind forms", () => {
  const cases: Array<[string, string, number]> = [
    [":80", "0.0.0.0", 80],
    ["*:80", "0.0.0.0", 80],
    ["8080", "0.0.0.0", 8080],
    ["0", "0.0.0.0", 0],
    [":0", "0.0.0.0", 0],
    ["127.0.0.1:80", "127.0.0.1", 80],
    ["0.0.0.0:443", "0.0.0.0", 443],
    ["[::1]:80", "::1", 80],
    ["[::]:80", "::", 80],
    ["[fe80::1%eth0]:8443", "fe80::1%eth0", 8443],
    ["[::ffff:192.0.2.1]:80", "::ffff:192.0.2.1", 80],
    ["localhost:80", "localhost", 80],
    ["proxy.example.com.:65535", "proxy.example.com.", 65535],
    ["my_service:1", "my_service", 1],
    ["  127.0.0.1:80  ", "127.0.0.1", 80],
    ["127.0.0.1:0080", "127.0.0.1", 80],
  ];
  for (const [text, host, port] of cases) {
    assert.deepEqual(parseBindAddress(text), { host, port }, text);
  }
});

test("address: bind errors", () => {
  const cases: Array<[string, string]> = [
    ["", 'Invalid address "": empty'],
    ["   ", 'Invalid address "   ": empty'],
    ["127.0.0.1:99999", 'Invalid port in "127.0.0.1:99999": expected 0 to 65535'],
    ["65536", 'Invalid port in "65536": expected 0 to 65535'],
    [":http", 'Invalid port in ":http": expected 0 to 65535'],
    [":-1", 'Invalid port in ":-1": expected 0 to 65535'],
    [":8.5", 'Invalid port in ":8.5": expected 0 to 65535'],
    ["127.0.0.1:", 'Invalid address "127.0.0.1:": missing port'],
    [":", 'Invalid address ":": missing port'],
    ["localhost", 'Invalid address "localhost": missing port, as in "localhost:80"'],
    ["*", 'Invalid address "*": missing port, as in "*:80"'],
    ["[::1:80", 'Invalid address "[::1:80": missing "]"'],
    ["[::1]", 'Invalid address "[::1]": missing port'],
    ["[::1]:", 'Invalid address "[::1]:": missing port'],
    ["[::1]80", 'Invalid address "[::1]80": expected ":" after "]"'],
    ["[::1]:70000", 'Invalid port in "[::1]:70000": expected 0 to 65535'],
    ["[127.0.0.1]:80", 'Invalid IPv6 address in "[127.0.0.1]:80": "127.0.0.1"'],
    ["[]:80", 'Invalid IPv6 address in "[]:80": ""'],
    ["[1:2:3:4:5:6:7:8:9]:80", 'Invalid IPv6 address in "[1:2:3:4:5:6:7:8:9]:80": "1:2:3:4:5:6:7:8:9"'],
    ["::1:80", 'Invalid address "::1:80": put an IPv6 address in brackets, as in "[::1]:80"'],
    [":::80", 'Invalid address ":::80": put an IPv6 address in brackets, as in "[::1]:80"'],
    ["10.0.0.256:80", 'Invalid IPv4 address in "10.0.0.256:80": "10.0.0.256"'],
    ["10.0.0:80", 'Invalid IPv4 address in "10.0.0:80": "10.0.0"'],
    ["010.0.0.1:80", 'Invalid IPv4 address in "010.0.0.1:80": "010.0.0.1"'],
    ["bad host:80", 'Invalid host in "bad host:80": "bad host"'],
    ["tcp://0.0.0.0:80", 'Invalid address "tcp://0.0.0.0:80": expected HOST:PORT, not a URL'],
    ["-leading.example:80", 'Invalid host in "-leading.example:80": "-leading.example"'],
    ["a..b:80", 'Invalid host in "a..b:80": "a..b"'],
    [
      `${"a".repeat(64)}.example:80`,
      `Invalid host in "${"a".repeat(64)}.example:80": "${"a".repeat(64)}.example"`,
    ],
  ];
  for (const [text, message] of cases) assertAddressError(parseBindAddress, text, message);
});

test("address: server forms", () => {
  const cases: Array<[string, string, number | null]> = [
    ["10.0.0.1:8080", "10.0.0.1", 8080],
    ["10.0.0.1", "10.0.0.1", null],
    ["[::1]:8080", "::1", 8080],
    ["[::1]", "::1", null],
    ["::1", "::1", null],
    ["2001:db8::10", "2001:db8::10", null],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1", null],
    ["fe80::1%eth0", "fe80::1%eth0", null],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8", null],
    ["web1.internal:8080", "web1.internal", 8080],
    ["web1", "web1", null],
    ["localhost:1", "localhost", 1],
    ["localhost:65535", "localhost", 65535],
    [" backend-2.example.com:443 ", "backend-2.example.com", 443],
  ];
  for (const [text, host, port] of cases) {
    assert.deepEqual(parseServerAddress(text), { host, port }, text);
  }
});

test("address: server errors", () => {
  const cases: Array<[string, string]> = [
    ["", 'Invalid address "": empty'],
    ["10.0.0.1:0", 'Invalid port in "10.0.0.1:0": expected 1 to 65535'],
    ["10.0.0.1:65536", 'Invalid port in "10.0.0.1:65536": expected 1 to 65535'],
    ["10.0.0.1:http", 'Invalid port in "10.0.0.1:http": expected 1 to 65535'],
    ["10.0.0.1:", 'Invalid address "10.0.0.1:": missing port'],
    [":80", 'Invalid address ":80": missing host'],
    ["*:80", 'Invalid address "*:80": missing host'],
    ["[::1]:0", 'Invalid port in "[::1]:0": expected 1 to 65535'],
    ["[::1]:", 'Invalid address "[::1]:": missing port'],
    ["[::1", 'Invalid address "[::1": missing "]"'],
    ["[::1]x", 'Invalid address "[::1]x": expected ":" after "]"'],
    ["[web1]:80", 'Invalid IPv6 address in "[web1]:80": "web1"'],
    ["web1::80", 'Invalid address "web1::80": put an IPv6 address in brackets, as in "[::1]:80"'],
    ["1::2::3", 'Invalid address "1::2::3": put an IPv6 address in brackets, as in "[::1]:80"'],
    ["1.2.3.4::80", 'Invalid address "1.2.3.4::80": put an IPv6 address in brackets, as in "[::1]:80"'],
    ["fe80::1%", 'Invalid address "fe80::1%": put an IPv6 address in brackets, as in "[::1]:80"'],
    ["300.1.1.1:80", 'Invalid IPv4 address in "300.1.1.1:80": "300.1.1.1"'],
    ["1.2.3", 'Invalid IPv4 address in "1.2.3": "1.2.3"'],
    ["web_1-:80", 'Invalid host in "web_1-:80": "web_1-"'],
    ["http://web1", 'Invalid address "http://web1": expected HOST:PORT, not a URL'],
    ["http://web1:80/", 'Invalid address "http://web1:80/": expected HOST:PORT, not a URL'],
  ];
  for (const [text, message] of cases) assertAddressError(parseServerAddress, text, message);
});

test("address: the error keeps the input and is an Error", () => {
  const error = (() => {
    try {
      parseServerAddress("  x:99999 ");
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  assert.ok(error instanceof AddressError);
  assert.equal(error.input, "x:99999");
  assert.equal(error.code, "ADDRESS_INVALID");
});

test("address: splitList trims and drops empty items", () => {
  assert.deepEqual(splitList("a:80,b:80"), ["a:80", "b:80"]);
  assert.deepEqual(splitList(" a:80 , ,b:80,, "), ["a:80", "b:80"]);
  assert.deepEqual(splitList("[::1]:80,10.0.0.1"), ["[::1]:80", "10.0.0.1"]);
  assert.deepEqual(splitList("single"), ["single"]);
  assert.deepEqual(splitList(""), []);
  assert.deepEqual(splitList(" , ,"), []);
});

test("address: ipFamily and isIpLiteral", () => {
  const cases: Array<[string, 4 | 6 | 0]> = [
    ["127.0.0.1", 4],
    ["0.0.0.0", 4],
    ["255.255.255.255", 4],
    ["256.0.0.1", 0],
    ["1.2.3", 0],
    ["1.2.3.4.5", 0],
    ["01.2.3.4", 0],
    ["::", 6],
    ["::1", 6],
    ["1::", 6],
    ["2001:db8::1", 6],
    ["2001:DB8:0:0:0:0:0:1", 6],
    ["1:2:3:4:5:6:7::", 6],
    ["::2:3:4:5:6:7:8", 6],
    ["::ffff:192.0.2.1", 6],
    ["64:ff9b::192.0.2.1", 6],
    ["fe80::1%eth0", 6],
    ["fe80::1%3", 6],
    ["1:2:3:4:5:6:7:8:9", 0],
    ["1:2:3:4:5:6:7", 0],
    ["1:2:3:4:5:6:7:8::", 0],
    ["12345::1", 0],
    ["::g", 0],
    [":::", 0],
    [":1::", 0],
    ["1::2::3", 0],
    ["1.2.3.4::", 0],
    ["::1.2.3.4:5", 0],
    ["[::1]", 0],
    ["fe80::1%", 0],
    ["localhost", 0],
    ["", 0],
  ];
  for (const [host, family] of cases) {
    assert.equal(ipFamily(host), family, host);
    assert.equal(isIpLiteral(host), family !== 0, host);
  }
});
