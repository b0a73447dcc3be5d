/**
 * The ClientHello reader (src/tls/client_hello.ts): real hellos captured from node:tls clients and
 * hand-built ones, fed whole, byte by byte, split at every position and fragmented over records;
 * truncated, garbage, oversized.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ClientHelloReader,
  HELLO_INCOMPLETE,
  HELLO_NO_SNI,
  HELLO_NOT_TLS,
  HELLO_SNI,
  NO_SNI_BAD_NAME,
  NO_SNI_MALFORMED,
  NO_SNI_NONE,
  NO_SNI_NOT_HELLO,
  NO_SNI_TOO_BIG,
} from "../src/tls/client_hello.ts";
import type { HelloStatus } from "../src/tls/client_hello.ts";
import { captureHello } from "./_tls_helpers.ts";

const encoder = new TextEncoder();

function u16(value: number): number[] {
  return [value >> 8, value & 0xff];
}

/** A ClientHello handshake message (header included) with these extensions. */
function helloMessage(extensions: Uint8Array | null, type = 1): Uint8Array {
  const body = [
    0x03, 0x03, // legacy_version
    ...new Array(32).fill(7), // random
    0, // legacy_session_id
    ...u16(4), 0x13, 0x01, 0x13, 0x02, // cipher_suites
    1, 0, // compression: null
  ];
  if (extensions !== null) body.push(...u16(extensions.length), ...extensions);
  const length = body.length;
  return new Uint8Array([type, length >> 16, (length >> 8) & 0xff, length & 0xff, ...body]);
}

function extension(type: number, data: Uint8Array | number[]): number[] {
  return [...u16(type), ...u16(data.length), ...data];
}

function serverNameExtension(name: string | Uint8Array, nameType = 0): number[] {
  const bytes = typeof name === "string" ? encoder.encode(name) : name;
  const entry = [nameType, ...u16(bytes.length), ...bytes];
  return extension(0, [...u16(entry.length), ...entry]);
}

/** The message cut in records whose payloads are at most `fragment` bytes. */
function inRecords(message: Uint8Array, fragment = 16_384): Uint8Array {
  const out: number[] = [];
  for (let at = 0; at < message.length; at += fragment) {
    const part = message.subarray(at, at + fragment);
    out.push(0x16, 0x03, 0x01, ...u16(part.length), ...part);
  }
  return new Uint8Array(out);
}

function helloWithName(name: string, padding = 0): Uint8Array {
  const extensions = [
    ...extension(0x000a, [0, 2, 0, 0x17]), // supported_groups
    ...(padding > 0 ? extension(0x0015, new Array(padding).fill(0)) : []), // padding (RFC 7685)
    ...serverNameExtension(name),
  ];
  return inRecords(helloMessage(new Uint8Array(extensions)));
}

/** Feeds `chunks` in order; the statuses after each. */
function feedAll(reader: ClientHelloReader, chunks: Uint8Array[]): HelloStatus[] {
  return chunks.map((chunk) => reader.feed(chunk));
}

function bytewise(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

function read(bytes: Uint8Array, limit?: number): ClientHelloReader {
  const reader = new ClientHelloReader(limit);
  reader.feed(bytes);
  return reader;
}

describe("ClientHello reader", () => {
  test("real node:tls hellos: the server name, or none", async () => {
    const named = await captureHello("www.example.test");
    const reader = read(named);
    assert.equal(reader.status, HELLO_SNI);
    assert.equal(reader.serverName, "www.example.test");
    const anonymous = await captureHello(undefined);
    const none = read(anonymous);
    assert.equal(none.status, HELLO_NO_SNI);
    assert.equal(none.problem, NO_SNI_NONE);
  });

  test("a real hello byte by byte: incomplete until its last byte, then the name", async () => {
    const hello = await captureHello("api.example.test");
    const reader = new ClientHelloReader();
    const statuses = feedAll(reader, bytewise(hello));
    assert.deepEqual(statuses.slice(0, -1), new Array(hello.length - 1).fill(HELLO_INCOMPLETE));
    assert.equal(statuses.at(-1), HELLO_SNI);
    assert.equal(reader.serverName, "api.example.test");
  });

  test("a real hello split in two at every position", async () => {
    const hello = await captureHello("a.example.test");
    const reader = new ClientHelloReader();
    for (let cut = 0; cut <= hello.length; cut++) {
      reader.reset();
      feedAll(reader, [hello.subarray(0, cut), hello.subarray(cut)]);
      assert.equal(reader.status, HELLO_SNI, `cut at ${cut}`);
      assert.equal(reader.serverName, "a.example.test");
    }
  });

  test("a hello fragmented over several records, fed whole and byte by byte", () => {
    const message = helloMessage(new Uint8Array(serverNameExtension("frag.example.test")));
    for (const fragment of [1, 2, 3, 4, 5, 17, 64]) {
      const records = inRecords(message, fragment);
      assert.equal(read(records).serverName, "frag.example.test", `fragment ${fragment}`);
      const reader = new ClientHelloReader();
      feedAll(reader, bytewise(records));
      assert.equal(reader.status, HELLO_SNI, `fragment ${fragment}, byte by byte`);
      assert.equal(reader.serverName, "frag.example.test");
    }
  });

  test("the name is lower-cased and loses its trailing dot; bytes after the hello are ignored", () => {
    const hello = helloWithName("WWW.Example.TEST.");
    const reader = read(new Uint8Array([...hello, 0x17, 0x03, 0x03, 0, 1, 0]));
    assert.equal(reader.serverName, "www.example.test");
  });

  test("the first host_name entry is taken; other name types are skipped", () => {
    const other = [1, ...u16(3), 0x61, 0x62, 0x63];
    const host = [0, ...u16(5), ...encoder.encode("b.com")];
    const list = [...other, ...host];
    const hello = inRecords(helloMessage(new Uint8Array(extension(0, [...u16(list.length), ...list]))));
    assert.equal(read(hello).serverName, "b.com");
  });

  test("hellos without a usable name", () => {
    const cases: Array<[string, Uint8Array, string]> = [
      ["no extensions block (TLS 1.0 to 1.2)", inRecords(helloMessage(null)), NO_SNI_NONE],
      ["extensions without server_name", inRecords(helloMessage(new Uint8Array(extension(0x000a, [0, 2, 0, 0x17])))), NO_SNI_NONE],
      ["an empty name", helloWithName(""), NO_SNI_BAD_NAME],
      ["a lone dot", helloWithName("."), NO_SNI_BAD_NAME],
      ["a space in the name", helloWithName("a b.com"), NO_SNI_BAD_NAME],
      ["a NUL in the name", inRecords(helloMessage(new Uint8Array(serverNameExtension(new Uint8Array([0x61, 0, 0x62]))))), NO_SNI_BAD_NAME],
      ["a non-ASCII name", helloWithName("bücher.example"), NO_SNI_BAD_NAME],
      ["a name of 256 characters", helloWithName("a".repeat(256)), NO_SNI_BAD_NAME],
      ["only a non-host name type", inRecords(helloMessage(new Uint8Array(serverNameExtension("x", 1)))), NO_SNI_NONE],
      ["a ServerHello instead", inRecords(helloMessage(null, 2)), NO_SNI_NOT_HELLO],
    ];
    for (const [what, bytes, problem] of cases) {
      const reader = read(bytes);
      assert.equal(reader.status, HELLO_NO_SNI, what);
      assert.equal(reader.problem, problem, what);
    }
  });

  test("malformed lengths inside the hello give no name, never an exception", () => {
    const message = helloMessage(new Uint8Array(serverNameExtension("x.example")));
    // The session id length (body offset 34, message offset 38) pointing past the end.
    const longSession = message.slice();
    longSession[38] = 0xff;
    assert.equal(read(inRecords(longSession)).problem, NO_SNI_MALFORMED);
    // The extensions length pointing past the end of the message.
    const extensionsAt = 4 + 34 + 1 + 6 + 2;
    const longExtensions = message.slice();
    longExtensions[extensionsAt] = 0xff;
    assert.equal(read(inRecords(longExtensions)).problem, NO_SNI_MALFORMED);
    // The server name list longer than its extension.
    const longList = message.slice();
    longList[extensionsAt + 2 + 4] = 0x7f;
    assert.equal(read(inRecords(longList)).problem, NO_SNI_MALFORMED);
    // The handshake message shorter than its fixed fields.
    assert.equal(read(inRecords(new Uint8Array([1, 0, 0, 3, 3, 3, 0]))).problem, NO_SNI_MALFORMED);
  });

  test("not TLS: decided from the first bytes that tell", () => {
    const cases: Array<[string, number[], number]> = [
      ["plain HTTP", [...encoder.encode("GET / HTTP/1.1\r\n")], 1],
      ["an SSLv2-style hello", [0x80, 0x2e, 0x01, 0x03, 0x01], 1],
      ["an alert record", [0x15, 0x03, 0x01, 0, 2, 2, 40], 1],
      ["a handshake record of another major version", [0x16, 0x02, 0x00, 0, 5], 2],
      ["an empty handshake record", [0x16, 0x03, 0x01, 0, 0], 5],
      ["a record over 2^14 bytes", [0x16, 0x03, 0x01, 0x40, 0x01], 5],
    ];
    for (const [what, bytes, decidedAfter] of cases) {
      const reader = new ClientHelloReader();
      const statuses = feedAll(reader, bytewise(new Uint8Array(bytes)));
      assert.equal(statuses.indexOf(HELLO_NOT_TLS), decidedAfter - 1, what);
      assert.equal(reader.status, HELLO_NOT_TLS, what);
    }
  });

  test("a record that is not a handshake after the first: a broken hello, not plain text", () => {
    const message = helloMessage(new Uint8Array(serverNameExtension("x.example")));
    const first = inRecords(message.subarray(0, 10));
    const reader = read(new Uint8Array([...first, 0x17, 0x03, 0x03, 0, 1, 0]));
    assert.equal(reader.status, HELLO_NO_SNI);
    assert.equal(reader.problem, NO_SNI_MALFORMED);
  });

  test("truncated hellos stay incomplete", async () => {
    const hello = await captureHello("t.example.test");
    for (const length of [0, 1, 4, 5, 6, 9, 40, hello.length - 1]) {
      assert.equal(read(hello.subarray(0, length)).status, HELLO_INCOMPLETE, `first ${length} bytes`);
    }
  });

  test("over the cap: given up as soon as the length is known, whatever the fragmentation", () => {
    const huge = helloWithName("big.example.test", 20_000);
    const reader = new ClientHelloReader(16_384);
    // The handshake header says 20 KiB: decided on the ninth byte, nothing more is read.
    const statuses = feedAll(reader, bytewise(huge.subarray(0, 9)));
    assert.deepEqual(statuses, [0, 0, 0, 0, 0, 0, 0, 0, HELLO_NO_SNI]);
    assert.equal(reader.problem, NO_SNI_TOO_BIG);
    // A hello under the cap whose tiny records' headers take it over the cap on the wire.
    const message = helloMessage(new Uint8Array([...extension(0x0015, new Array(2_000).fill(0)), ...serverNameExtension("x.example")]));
    const tiny = inRecords(message, 1);
    assert.ok(message.length < 4_096 && tiny.length > 4_096);
    const capped = new ClientHelloReader(4_096);
    feedAll(capped, [tiny.subarray(0, 3_000), tiny.subarray(3_000, 4_096)]);
    assert.equal(capped.status, HELLO_NO_SNI);
    assert.equal(capped.problem, NO_SNI_TOO_BIG);
    // The same hello fits a larger cap.
    assert.equal(read(tiny, 16_384).serverName, "x.example");
    // A large hello under the cap, fragmented as TLS stacks do (2^14-byte records).
    assert.equal(read(helloWithName("padded.example.test", 12_000)).serverName, "padded.example.test");
  });

  test("garbage and mutated hellos never throw and always end in a known status", async () => {
    const hello = await captureHello("fuzz.example.test");
    let seed = 12_345;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed;
    };
    const reader = new ClientHelloReader();
    for (let round = 0; round < 3_000; round++) {
      const bytes = round % 3 === 0
        ? new Uint8Array(Array.from({ length: random() % 600 }, (_, i) => i < 3 ? [0x16, 0x03, 0x01][i]! : random() & 0xff))
        : hello.slice();
      if (round % 3 !== 0) {
        for (let flips = 1 + random() % 4; flips > 0; flips--) bytes[random() % bytes.length] = random() & 0xff;
      }
      reader.reset();
      let at = 0;
      while (at < bytes.length) {
        const size = 1 + random() % 200;
        reader.feed(bytes.subarray(at, at + size));
        at += size;
      }
      assert.ok([HELLO_INCOMPLETE, HELLO_NOT_TLS, HELLO_NO_SNI, HELLO_SNI].includes(reader.status));
      if (reader.status === HELLO_SNI) assert.match(reader.serverName, /^[a-z0-9_.-]+$/);
    }
  });

  test("reset readies the reader for another connection", () => {
    const reader = new ClientHelloReader();
    reader.feed(encoder.encode("GET /"));
    assert.equal(reader.status, HELLO_NOT_TLS);
    assert.equal(reader.feed(helloWithName("x.example")), HELLO_NOT_TLS, "the status is sticky");
    reader.reset();
    reader.feed(helloWithName("x.example").subarray(0, 20));
    reader.reset();
    assert.equal(reader.feed(helloWithName("y.example")), HELLO_SNI);
    assert.equal(reader.serverName, "y.example");
  });
});
