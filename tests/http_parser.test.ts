/**
 * The http message layer: head parser, chunked decoder and serializer. Every corpus message is
 * parsed whole, one byte at a time, and split at every position, and must give the same result.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BODY_CHUNKED,
  BODY_CONTENT_LENGTH,
  BODY_NONE,
  BODY_UNTIL_CLOSE,
  DEFAULT_MAX_HEAD_BYTES,
  DEFAULT_MAX_HEADER_LINES,
  HEAD_FAILED,
  HEAD_INCOMPLETE,
  HeadParser,
} from "../src/http/head_parser.ts";
import type { MessageKind } from "../src/http/head_parser.ts";
import { CHUNKED_FAILED, ChunkedDecoder } from "../src/http/chunked_decoder.ts";
import { isForwarded, serializeHead, withoutH2c } from "../src/http/serialize.ts";
import { HttpError } from "../src/http/errors.ts";
import { latin1Bytes as bytes, latin1Text as text } from "./_runtime_helpers.ts";

/** What a parse produced, comparable across splits. */
interface Outcome {
  end?: number;
  error?: { code: string; status: number };
  head?: Record<string, unknown>;
}

function snapshot(parser: HeadParser): Record<string, unknown> {
  return {
    method: parser.method,
    target: parser.target,
    version: parser.version,
    status: parser.status,
    reason: parser.reason,
    headers: parser.headers(),
    lowerNames: parser.headerLowerNames.slice(0, parser.headerCount),
    headBytes: parser.headBytes,
    bodyKind: parser.bodyKind,
    contentLength: parser.contentLength,
    chunked: parser.chunked,
    closeAfterResponse: parser.closeAfterResponse,
    keepAlive: parser.keepAlive,
    connectionTokens: [...parser.connectionTokens],
    connectionClose: parser.connectionClose,
    connectionKeepAlive: parser.connectionKeepAlive,
    connectionUpgrade: parser.connectionUpgrade,
    upgrade: parser.upgrade,
    h2cUpgrade: parser.h2cUpgrade,
    hasHttp2Settings: parser.hasHttp2Settings,
    expectContinue: parser.expectContinue,
    host: parser.host,
    interim: parser.interim,
  };
}

/** Feeds `chunks` in order; `end` is the absolute offset where the body starts. */
function feedAll(parser: HeadParser, chunks: Uint8Array[], requestMethod = ""): Outcome {
  parser.reset(requestMethod);
  let before = 0;
  for (const chunk of chunks) {
    const result = parser.feed(chunk, 0);
    if (result === HEAD_FAILED) {
      assert.ok(parser.error instanceof HttpError);
      return { error: { code: parser.error.code, status: parser.error.status } };
    }
    if (result >= 0) return { end: before + result, head: snapshot(parser) };
    assert.equal(result, HEAD_INCOMPLETE);
    before += chunk.length;
  }
  return {};
}

function splits(data: Uint8Array): Uint8Array[][] {
  const ways: Uint8Array[][] = [[data], Array.from(data, (_, i) => data.subarray(i, i + 1))];
  for (let at = 1; at < data.length; at++) ways.push([data.subarray(0, at), data.subarray(at)]);
  return ways;
}

/** Parses `raw` every way; asserts all agree and returns the outcome. */
function parseEveryWay(kind: MessageKind, raw: string, requestMethod = ""): Outcome {
  const data = bytes(raw);
  const parser = new HeadParser(kind);
  const reference = feedAll(parser, [data], requestMethod);
  for (const chunks of splits(data)) {
    assert.deepEqual(feedAll(parser, chunks, requestMethod), reference, `split into ${chunks.map((c) => c.length).join("+")}`);
  }
  // A fresh parser agrees with the reused one.
  assert.deepEqual(feedAll(new HeadParser(kind), [data], requestMethod), reference);
  return reference;
}

interface Case {
  name: string;
  kind: MessageKind;
  raw: string;
  requestMethod?: string;
  error?: [code: string, status: number];
  expect?: Record<string, unknown>;
}

const GET = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n";

const CORPUS: Case[] = [
  // Valid requests.
  {
    name: "simple GET",
    kind: "request",
    raw: GET,
    expect: {
      method: "GET", target: "/index.html?q=1", version: "1.1", host: "example.com", bodyKind: BODY_NONE,
      keepAlive: true, headers: [["Host", "example.com"], ["User-Agent", "test"]],
      lowerNames: ["host", "user-agent"],
    },
  },
  {
    name: "POST with Content-Length, body following",
    kind: "request",
    raw: "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    expect: { method: "POST", bodyKind: BODY_CONTENT_LENGTH, contentLength: 5 },
  },
  {
    name: "Content-Length 0 means no body",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    expect: { bodyKind: BODY_NONE, contentLength: 0 },
  },
  {
    name: "identical Content-Length list collapses (RFC 9110 8.6)",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
    expect: { bodyKind: BODY_CONTENT_LENGTH, contentLength: 5, headers: [["Host", "a"], ["Content-Length", "5"]] },
  },
  {
    name: "chunked request",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, chunked: true, closeAfterResponse: false },
  },
  {
    name: "TE + CL: chunked wins, CL removed, close after (HAProxy reg-test c1)",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 31\r\n\r\n" +
      "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
    expect: {
      bodyKind: BODY_CHUNKED, chunked: true, contentLength: undefined, closeAfterResponse: true,
      headers: [["Host", "a"], ["Transfer-Encoding", "chunked"]],
    },
  },
  {
    name: "HTTP/1.0 request with TE: chunked, then close (HAProxy reg-test c2)",
    kind: "request",
    raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, closeAfterResponse: true, keepAlive: false, version: "1.0" },
  },
  {
    name: "HTTP/1.0 without Host, keep-alive asked",
    kind: "request",
    raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    expect: { version: "1.0", host: undefined, keepAlive: true, connectionKeepAlive: true },
  },
  {
    name: "HTTP/1.0 defaults to close",
    kind: "request",
    raw: "GET / HTTP/1.0\r\n\r\n",
    expect: { keepAlive: false, headers: [] },
  },
  {
    name: "Connection tokens",
    kind: "request",
    raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Trace\r\nConnection: ,Upgrade\r\nUpgrade: websocket\r\n\r\n",
    expect: {
      connectionTokens: ["close", "x-trace", "upgrade"], connectionClose: true, connectionUpgrade: true,
      keepAlive: false, upgrade: "websocket", h2cUpgrade: false,
    },
  },
  {
    name: "h2c upgrade flagged",
    kind: "request",
    raw: "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    expect: { h2cUpgrade: true, hasHttp2Settings: true, upgrade: "h2c" },
  },
  {
    name: "Expect: 100-continue",
    kind: "request",
    raw: "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
    expect: { expectContinue: true, method: "PUT" },
  },
  {
    name: "Expect ignored in HTTP/1.0 (RFC 9110 10.1.1)",
    kind: "request",
    raw: "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    expect: { expectContinue: false },
  },
  {
    name: "duplicate Host lines with one value become one, the first (HAProxy 2.6)",
    kind: "request",
    raw: "GET / HTTP/1.1\r\nHost: a.test\r\nX: 1\r\nhost: a.test\r\nHOST: A.Test\r\n\r\n",
    expect: { host: "a.test", headers: [["Host", "a.test"], ["X", "1"]] },
  },
  {
    name: "identical Content-Length lines become one",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\ncontent-length: 5\r\n\r\n",
    expect: { contentLength: 5, headers: [["Content-Length", "5"], ["Host", "a"]] },
  },
  {
    name: "a Content-Length list of one value becomes that value",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7 , 7,7\r\n\r\n",
    expect: { contentLength: 7, headers: [["Host", "a"], ["Content-Length", "7"]] },
  },
  {
    name: "HTTP/1.2 is read as HTTP/1.1 (RFC 9110 2.5)",
    kind: "request",
    raw: "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    expect: { version: "1.1", keepAlive: true },
  },
  {
    name: "HTTP/1.9 is read as HTTP/1.1",
    kind: "request",
    raw: "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
    expect: { version: "1.1" },
  },
  {
    name: "Transfer-Encoding is normalised to the codings applied",
    kind: "request",
    raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, headers: [["Host", "a"], ["Transfer-Encoding", "chunked"]] },
  },
  {
    name: "Transfer-Encoding lines are joined into one, at the first",
    kind: "request",
    raw: "POST / HTTP/1.1\r\ntransfer-encoding:\r\nHost: a\r\nTransfer-Encoding: CHUNKED ,\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, headers: [["transfer-encoding", "chunked"], ["Host", "a"]] },
  },
  {
    name: "absolute-form: the authority replaces Host (RFC 9112 3.2.2)",
    kind: "request",
    raw: "GET http://other.test/p?q HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX: 1\r\n\r\n",
    expect: { target: "http://other.test/p?q", host: "other.test", headers: [["Host", "other.test"], ["X", "1"]] },
  },
  {
    name: "absolute-form: the scheme's default port and an empty port are dropped",
    kind: "request",
    raw: "GET HTTPS://Other.Test:443?q HTTP/1.1\r\nHost: x\r\n\r\n",
    expect: { target: "HTTPS://Other.Test?q", host: "Other.Test", headers: [["Host", "Other.Test"]] },
  },
  {
    name: "absolute-form: an empty port is dropped, another port kept",
    kind: "request",
    raw: "GET http://h:/a HTTP/1.1\r\nHost: h\r\n\r\n",
    expect: { target: "http://h/a", host: "h" },
  },
  {
    name: "absolute-form: an IP literal and a port",
    kind: "request",
    raw: "GET http://[2001:db8::1]:8443/ HTTP/1.1\r\nHost: h\r\n\r\n",
    expect: { target: "http://[2001:db8::1]:8443/", host: "[2001:db8::1]:8443" },
  },
  {
    name: "absolute-form in HTTP/1.0 without Host: Host is added",
    kind: "request",
    raw: "GET http://h.test:81/ HTTP/1.0\r\nX: 1\r\n\r\n",
    expect: { host: "h.test:81", headers: [["X", "1"], ["Host", "h.test:81"]] },
  },
  {
    name: "OPTIONS * keeps its target",
    kind: "request",
    raw: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    expect: { target: "*", host: "h" },
  },
  {
    name: "leading empty lines are skipped (RFC 9112 2.2)",
    kind: "request",
    raw: "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    expect: { method: "GET", headBytes: 27 },
  },
  {
    name: "whitespace around values is trimmed, inner kept, empty value allowed",
    kind: "request",
    raw: "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t one  two \t\r\nX-Empty:\r\nX-Sp:   \r\n\r\n",
    expect: { headers: [["Host", "a"], ["X-A", "one  two"], ["X-Empty", ""], ["X-Sp", ""]] },
  },
  {
    name: "obs-text in values is kept byte for byte",
    kind: "request",
    raw: "GET / HTTP/1.1\r\nHost: a\r\nX-Latin: caf\u00e9 \u0080\u00ff\r\nX-After: \u009fz\r\n\r\n",
    expect: { headers: [["Host", "a"], ["X-Latin", "caf\u00e9 \u0080\u00ff"], ["X-After", "\u009fz"]] },
  },
  {
    name: "unusual token method and absolute-form target",
    kind: "request",
    raw: "M-SEARCH http://h:80/p?x=%20 HTTP/1.1\r\nHost: h:80\r\n\r\n",
    expect: { method: "M-SEARCH", target: "http://h/p?x=%20", host: "h", headers: [["Host", "h"]] },
  },
  {
    name: "OPTIONS * and CONNECT authority form",
    kind: "request",
    raw: "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    expect: { method: "CONNECT", target: "example.com:443" },
  },

  // Invalid requests.
  { name: "bare LF line ending", kind: "request", raw: "GET / HTTP/1.1\nHost: a\r\n\r\n", error: ["HTTP_BARE_LF", 400] },
  { name: "bare LF at the end", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\n\n", error: ["HTTP_BARE_LF", 400] },
  { name: "bare LF first", kind: "request", raw: "\nGET / HTTP/1.1\r\n\r\n", error: ["HTTP_BARE_LF", 400] },
  { name: "bare CR in a value", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", error: ["HTTP_BARE_CR", 400] },
  { name: "bare CR in a name", kind: "request", raw: "GET / HTTP/1.1\r\nHo\rst: a\r\n\r\n", error: ["HTTP_BARE_CR", 400] },
  { name: "NUL in a value", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\u0000b\r\n\r\n", error: ["HTTP_INVALID_HEADER_VALUE", 400] },
  { name: "whitespace before colon", kind: "request", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", error: ["HTTP_WHITESPACE_BEFORE_COLON", 400] },
  { name: "tab before colon", kind: "request", raw: "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", error: ["HTTP_WHITESPACE_BEFORE_COLON", 400] },
  { name: "obsolete line folding", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", error: ["HTTP_OBSOLETE_LINE_FOLDING", 400] },
  { name: "folding with a tab", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\n\tX: b\r\n\r\n", error: ["HTTP_OBSOLETE_LINE_FOLDING", 400] },
  { name: "header name not a token", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", error: ["HTTP_INVALID_HEADER_NAME", 400] },
  { name: "header name non-ASCII", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\nX\u00e9: b\r\n\r\n", error: ["HTTP_INVALID_HEADER_NAME", 400] },
  { name: "empty header name", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", error: ["HTTP_INVALID_HEADER_NAME", 400] },
  { name: "header without colon", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", error: ["HTTP_INVALID_HEADER_LINE", 400] },
  { name: "method not a token", kind: "request", raw: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_METHOD", 400] },
  { name: "empty method", kind: "request", raw: " / HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_METHOD", 400] },
  { name: "HTTP/0.9 request line", kind: "request", raw: "GET /\r\n\r\n", error: ["HTTP_INVALID_REQUEST_LINE", 400] },
  { name: "method only", kind: "request", raw: "GET\r\n\r\n", error: ["HTTP_INVALID_REQUEST_LINE", 400] },
  // The target ends at the first space (RFC 9112 3): what follows must be the version.
  { name: "space in target", kind: "request", raw: "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_VERSION", 400] },
  { name: "double space before target", kind: "request", raw: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "# in target", kind: "request", raw: "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "control byte in target", kind: "request", raw: "GET /a\u0001 HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "DEL in target", kind: "request", raw: "GET /a\u007f HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "tab in target", kind: "request", raw: "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "HTTP/2.0 on an h1 connection", kind: "request", raw: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", error: ["HTTP_UNSUPPORTED_VERSION", 505] },
  { name: "HTTP/3.1 on an h1 connection", kind: "request", raw: "GET / HTTP/3.1\r\nHost: a\r\n\r\n", error: ["HTTP_UNSUPPORTED_VERSION", 505] },
  { name: "HTTP/0.9 as text", kind: "request", raw: "GET / HTTP/0.9\r\nHost: a\r\n\r\n", error: ["HTTP_UNSUPPORTED_VERSION", 505] },
  { name: "NUL in the method", kind: "request", raw: "G\u0000T / HTTP/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_METHOD", 400] },
  { name: "NUL after the version", kind: "request", raw: "GET / HTTP/1.1\u0000\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_VERSION", 400] },
  { name: "bare CR after the version", kind: "request", raw: "GET / HTTP/1.1\rHost: a\r\n\r\n", error: ["HTTP_BARE_CR", 400] },
  { name: "control byte in a header name", kind: "request", raw: "GET / HTTP/1.1\r\nHo\u0001st: a\r\n\r\n", error: ["HTTP_INVALID_HEADER_NAME", 400] },
  { name: "method and space only", kind: "request", raw: "GET \r\n\r\n", error: ["HTTP_INVALID_REQUEST_LINE", 400] },
  { name: "control byte before a bare LF: the first error wins", kind: "request", raw: "GET /\u0001 HTTP/1.1\nHost: a\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "absolute-form: port above 65535", kind: "request", raw: "GET http://h:65536/ HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: port not a number", kind: "request", raw: "GET http://h:8o/ HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: user information", kind: "request", raw: "GET http://user:pw@h/ HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: empty host", kind: "request", raw: "GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: no authority", kind: "request", raw: "GET http:/p HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: host with a character not allowed", kind: "request", raw: "GET http://a<b/ HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: unclosed IP literal", kind: "request", raw: "GET http://[::1/ HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_AUTHORITY", 400] },
  { name: "absolute-form: scheme other than http(s)", kind: "request", raw: "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_UNSUPPORTED_SCHEME", 400] },
  { name: "absolute-form: URI without authority", kind: "request", raw: "GET mailto:a@h HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_UNSUPPORTED_SCHEME", 400] },
  { name: "target in no form", kind: "request", raw: "GET h.test HTTP/1.1\r\nHost: h\r\n\r\n", error: ["HTTP_INVALID_TARGET", 400] },
  { name: "lower-case version", kind: "request", raw: "GET / http/1.1\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_VERSION", 400] },
  { name: "malformed version", kind: "request", raw: "GET / HTTP/1.x\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_VERSION", 400] },
  { name: "long version", kind: "request", raw: "GET / HTTP/1.10\r\nHost: a\r\n\r\n", error: ["HTTP_INVALID_VERSION", 400] },
  { name: "missing Host in HTTP/1.1", kind: "request", raw: "GET / HTTP/1.1\r\nX: a\r\n\r\n", error: ["HTTP_MISSING_HOST", 400] },
  { name: "two different Hosts", kind: "request", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", error: ["HTTP_CONFLICTING_HOST", 400] },
  { name: "Content-Length not digits", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length negative", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length with a plus", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length empty", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length with inner space", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length empty list member", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length too large", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 400] },
  { name: "Content-Length list 5, 6", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", error: ["HTTP_CONFLICTING_CONTENT_LENGTH", 400] },
  { name: "two Content-Length headers differ", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", error: ["HTTP_CONFLICTING_CONTENT_LENGTH", 400] },
  { name: "TE gzip (reg-test c9)", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", error: ["HTTP_CHUNKED_NOT_LAST", 400] },
  { name: "TE chunked, gzip (reg-test c8)", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", error: ["HTTP_CHUNKED_NOT_LAST", 400] },
  { name: "TE chunked then gzip header", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", error: ["HTTP_CHUNKED_NOT_LAST", 400] },
  { name: "TE empty", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", error: ["HTTP_CHUNKED_NOT_LAST", 400] },
  { name: "TE chunked, chunked (reg-test c6)", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", error: ["HTTP_CHUNKED_TWICE", 400] },
  { name: "TE chunked, gzip, chunked (reg-test c7)", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n", error: ["HTTP_CHUNKED_TWICE", 400] },
  { name: "TE chunked in two headers", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: Chunked\r\n\r\n", error: ["HTTP_CHUNKED_TWICE", 400] },
  { name: "TE gzip, chunked (reg-test c10)", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", error: ["HTTP_UNSUPPORTED_TRANSFER_CODING", 422] },
  { name: "TE not a token", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", error: ["HTTP_INVALID_TRANSFER_ENCODING", 400] },
  { name: "TE with junk after the coding", kind: "request", raw: "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked x\r\n\r\n", error: ["HTTP_INVALID_TRANSFER_ENCODING", 400] },

  // Valid responses.
  {
    name: "200 with Content-Length",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    expect: { status: 200, reason: "OK", bodyKind: BODY_CONTENT_LENGTH, contentLength: 2, closeAfterResponse: false },
  },
  {
    name: "status without reason nor space",
    kind: "response",
    raw: "HTTP/1.1 204\r\n\r\n",
    expect: { status: 204, reason: "", bodyKind: BODY_NONE },
  },
  {
    name: "empty reason after the space, obs-text reason",
    kind: "response",
    raw: "HTTP/1.0 404 Not \u00e9 Found\r\n\r\n",
    expect: { status: 404, reason: "Not \u00e9 Found", version: "1.0", bodyKind: BODY_UNTIL_CLOSE, keepAlive: false },
  },
  {
    name: "neither CL nor chunked: read until close",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",
    expect: { bodyKind: BODY_UNTIL_CLOSE, closeAfterResponse: true },
  },
  {
    name: "chunked response",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, chunked: true, closeAfterResponse: false },
  },
  {
    name: "TE + CL response (reg-test c4)",
    kind: "response",
    raw: "HTTP/1.1 200 Ok\r\nTransfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nResponse splitting attach",
    expect: { bodyKind: BODY_CHUNKED, contentLength: undefined, closeAfterResponse: true, headers: [["Transfer-Encoding", "chunked"]] },
  },
  {
    name: "HTTP/1.0 chunked response (reg-test c3)",
    kind: "response",
    raw: "HTTP/1.0 200 Ok\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, closeAfterResponse: true },
  },
  {
    name: "chunked not last in a response: read until close (RFC 9112 6.3)",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    expect: { bodyKind: BODY_UNTIL_CLOSE, chunked: false, closeAfterResponse: true },
  },
  {
    name: "gzip, chunked in a response is fine",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED },
  },
  {
    name: "304 carries no body despite Content-Length",
    kind: "response",
    raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
    expect: { bodyKind: BODY_NONE, contentLength: 100, closeAfterResponse: false },
  },
  {
    name: "204 without framing has no body",
    kind: "response",
    raw: "HTTP/1.1 204 No Content\r\n\r\n",
    expect: { bodyKind: BODY_NONE, closeAfterResponse: false },
  },
  {
    name: "100 Continue is interim",
    kind: "response",
    raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
    expect: { status: 100, interim: true, bodyKind: BODY_NONE },
  },
  {
    name: "101 Switching Protocols is final",
    kind: "response",
    raw: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    expect: { status: 101, interim: false, bodyKind: BODY_NONE, connectionUpgrade: true, upgrade: "websocket" },
  },
  {
    name: "response to HEAD carries no body",
    kind: "response",
    requestMethod: "HEAD",
    raw: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n",
    expect: { bodyKind: BODY_NONE, contentLength: 1000 },
  },
  {
    name: "2xx to CONNECT carries no body",
    kind: "response",
    requestMethod: "CONNECT",
    raw: "HTTP/1.1 200 Connection established\r\n\r\n",
    expect: { bodyKind: BODY_NONE, closeAfterResponse: false },
  },
  {
    name: "HTTP/1.2 response read as HTTP/1.1",
    kind: "response",
    raw: "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
    expect: { version: "1.1", status: 200, keepAlive: true },
  },
  {
    name: "response Transfer-Encoding normalised, other codings kept",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,,  Chunked\r\n\r\n",
    expect: { bodyKind: BODY_CHUNKED, headers: [["Transfer-Encoding", "gzip, chunked"]] },
  },
  {
    name: "response with an empty Transfer-Encoding: the line goes, the body runs until close",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\nX: 1\r\n\r\n",
    expect: { bodyKind: BODY_UNTIL_CLOSE, headers: [["X", "1"]] },
  },
  {
    name: "response Content-Length lines become one",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok",
    expect: { contentLength: 2, headers: [["Content-Length", "2"]] },
  },
  {
    name: "response headers: Host and Expect are not request facts",
    kind: "response",
    raw: "HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nContent-Length: 0\r\n\r\n",
    expect: { host: undefined, bodyKind: BODY_NONE },
  },

  // Invalid responses.
  { name: "status 99", kind: "response", raw: "HTTP/1.1 099 Low\r\n\r\n", error: ["HTTP_INVALID_STATUS", 502] },
  { name: "status 600", kind: "response", raw: "HTTP/1.1 600 High\r\n\r\n", error: ["HTTP_INVALID_STATUS", 502] },
  { name: "status of 4 digits", kind: "response", raw: "HTTP/1.1 2000 OK\r\n\r\n", error: ["HTTP_INVALID_STATUS", 502] },
  { name: "status not digits", kind: "response", raw: "HTTP/1.1 2x0 OK\r\n\r\n", error: ["HTTP_INVALID_STATUS", 502] },
  { name: "status of 2 digits", kind: "response", raw: "HTTP/1.1 20 OK\r\n\r\n", error: ["HTTP_INVALID_STATUS", 502] },
  { name: "status line too short", kind: "response", raw: "HTTP/1.1 20\r\n\r\n", error: ["HTTP_INVALID_STATUS_LINE", 502] },
  { name: "not HTTP", kind: "response", raw: "ICY 200 OK\r\n\r\n", error: ["HTTP_INVALID_STATUS_LINE", 502] },
  { name: "HTTP/2.0 response", kind: "response", raw: "HTTP/2.0 200 OK\r\n\r\n", error: ["HTTP_UNSUPPORTED_VERSION", 502] },
  { name: "HTTP/2.0 status line cut short", kind: "response", raw: "HTTP/2.0\r\n\r\n", error: ["HTTP_UNSUPPORTED_VERSION", 502] },
  { name: "NUL in a response header value", kind: "response", raw: "HTTP/1.1 200 OK\r\nX: a\u0000\r\n\r\n", error: ["HTTP_INVALID_HEADER_VALUE", 502] },
  { name: "control byte in reason", kind: "response", raw: "HTTP/1.1 200 O\u0001K\r\n\r\n", error: ["HTTP_INVALID_STATUS_LINE", 502] },
  { name: "empty line before status", kind: "response", raw: "\r\nHTTP/1.1 200 OK\r\n\r\n", error: ["HTTP_INVALID_STATUS_LINE", 502] },
  { name: "response chunked twice", kind: "response", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", error: ["HTTP_CHUNKED_TWICE", 502] },
  { name: "response chunked, gzip, chunked", kind: "response", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n", error: ["HTTP_CHUNKED_TWICE", 502] },
  { name: "response CL conflict", kind: "response", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", error: ["HTTP_CONFLICTING_CONTENT_LENGTH", 502] },
  { name: "response CL invalid", kind: "response", raw: "HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 502] },
  { name: "response CL invalid even without body", kind: "response", raw: "HTTP/1.1 304 OK\r\nContent-Length: x\r\n\r\n", error: ["HTTP_INVALID_CONTENT_LENGTH", 502] },
  { name: "response obs-fold", kind: "response", raw: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", error: ["HTTP_OBSOLETE_LINE_FOLDING", 502] },
  { name: "response bare LF", kind: "response", raw: "HTTP/1.1 200 OK\nX: a\r\n\r\n", error: ["HTTP_BARE_LF", 502] },
];

for (const entry of CORPUS) {
  test(`${entry.kind} corpus: ${entry.name}`, () => {
    const outcome = parseEveryWay(entry.kind, entry.raw, entry.requestMethod);
    if (entry.error !== undefined) {
      assert.deepEqual(outcome.error, { code: entry.error[0], status: entry.error[1] });
      return;
    }
    assert.equal(outcome.error, undefined, `unexpected error ${JSON.stringify(outcome.error)}`);
    assert.ok(outcome.head !== undefined, "the head did not complete");
    // The body starts right after the first CRLFCRLF that ends the head.
    assert.equal(outcome.end, entry.raw.indexOf("\r\n\r\n", entry.raw.startsWith("\r\n") ? 4 : 0) + 4);
    for (const [key, value] of Object.entries(entry.expect ?? {})) {
      assert.deepEqual(outcome.head[key], value, key);
    }
  });
}

test("the corpus covers every error code of the head parser", () => {
  const covered = new Set(CORPUS.flatMap((entry) => entry.error === undefined ? [] : [entry.error[0]]));
  for (const code of [
    "HTTP_BARE_LF", "HTTP_BARE_CR", "HTTP_INVALID_REQUEST_LINE", "HTTP_INVALID_METHOD", "HTTP_INVALID_TARGET",
    "HTTP_INVALID_VERSION", "HTTP_UNSUPPORTED_VERSION", "HTTP_INVALID_STATUS_LINE", "HTTP_INVALID_STATUS",
    "HTTP_INVALID_HEADER_LINE", "HTTP_INVALID_HEADER_NAME", "HTTP_WHITESPACE_BEFORE_COLON",
    "HTTP_OBSOLETE_LINE_FOLDING", "HTTP_INVALID_HEADER_VALUE", "HTTP_INVALID_CONTENT_LENGTH",
    "HTTP_CONFLICTING_CONTENT_LENGTH", "HTTP_INVALID_TRANSFER_ENCODING", "HTTP_CHUNKED_NOT_LAST",
    "HTTP_CHUNKED_TWICE", "HTTP_UNSUPPORTED_TRANSFER_CODING", "HTTP_MISSING_HOST", "HTTP_CONFLICTING_HOST",
    "HTTP_INVALID_AUTHORITY", "HTTP_UNSUPPORTED_SCHEME",
  ]) assert.ok(covered.has(code), code);
});

test("errors carry sentence-case messages with the value quoted", () => {
  const parser = new HeadParser("request");
  assert.equal(parser.feed(bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12x\r\n\r\n")), HEAD_FAILED);
  assert.equal(parser.error!.message, 'Content-Length "12x" is not a number');
  assert.equal(parser.error!.name, "HttpError");
  parser.reset();
  assert.equal(parser.feed(bytes("GET /a\u0001 HTTP/1.1\r\n\r\n")), HEAD_FAILED);
  assert.equal(parser.error!.message, 'Request target "/a\\u0001" holds a character that is not allowed');
});

test("the head is found inside a chunk and the body is not copied nor consumed", () => {
  const parser = new HeadParser("request");
  const head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n";
  const data = bytes(head + "x".repeat(10000));
  assert.equal(parser.feed(data, 0), head.length);
  // Starting at an offset, as after a pipelined message.
  const two = bytes("GARBAGE" + head);
  parser.reset();
  assert.equal(parser.feed(two, 7), two.length);
  // A head over three chunks, the body in the last one.
  parser.reset();
  assert.equal(parser.feed(bytes("POST / HT")), HEAD_INCOMPLETE);
  assert.equal(parser.feed(bytes("TP/1.1\r\nHost: a\r\nContent-")), HEAD_INCOMPLETE);
  assert.equal(parser.feed(bytes("Length: 3\r\n\r\nabc")), 13);
  assert.equal(parser.contentLength, 3);
});

test("a head decoded with the small body behind it reads the same as alone, whatever the body's bytes", () => {
  // Body bytes 0x80-0x9F decode to other characters than latin1 would (windows-1252), and a
  // value's 0x80-0x9F bytes make the head decode exactly: neither may shift or change a field.
  const heads = [
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 32\r\nX-Raw: caf\u00e9\r\n\r\n",
    "HTTP/1.1 200 Fine \u0085\r\nContent-Length: 32\r\nX-Raw: \u0080\u009f\u00ff\r\n\r\n",
  ];
  const body = new Uint8Array(32);
  for (let i = 0; i < body.length; i++) body[i] = 0x80 + i;
  for (const head of heads) {
    const alone = parse("response", head);
    for (const bodyLength of [0, 1, 32]) {
      const chunk = new Uint8Array(head.length + bodyLength);
      chunk.set(bytes(head));
      chunk.set(body.subarray(0, bodyLength), head.length);
      const parser = new HeadParser("response");
      assert.equal(parser.feed(chunk), head.length);
      assert.deepEqual(snapshot(parser), snapshot(alone), `${JSON.stringify(head)} with ${bodyLength} body bytes`);
    }
  }
});

test("an invalid byte fails the head as soon as it is fed, before the head ends", () => {
  const cases: [kind: MessageKind, prefix: string, code: string][] = [
    ["request", "G\u0000", "HTTP_INVALID_METHOD"],
    ["request", "GET /\u0001", "HTTP_INVALID_TARGET"],
    ["request", "GET /a\u007f", "HTTP_INVALID_TARGET"],
    ["request", "GET / HTTP/1.1\u0000", "HTTP_INVALID_VERSION"],
    ["request", "GET / HTTX", "HTTP_INVALID_VERSION"],
    ["request", "GET / HTTP/2.0", "HTTP_UNSUPPORTED_VERSION"],
    ["request", "GET / HTTP/1.1\r\nHo\u0001", "HTTP_INVALID_HEADER_NAME"],
    ["request", "GET / HTTP/1.1\r\nHost : ", "HTTP_WHITESPACE_BEFORE_COLON"],
    ["request", "GET / HTTP/1.1\r\nHost: a\r\n ", "HTTP_OBSOLETE_LINE_FOLDING"],
    ["request", "GET / HTTP/1.1\r\nHost: a\u0000", "HTTP_INVALID_HEADER_VALUE"],
    ["request", "GET / HTTP/1.1\r\nHost: a\rX", "HTTP_BARE_CR"],
    ["request", "GET / HTTP/1.1\r\nX-Long: " + "v".repeat(5000) + "\u0000", "HTTP_INVALID_HEADER_VALUE"],
    ["response", "HTTP/1.1 2x", "HTTP_INVALID_STATUS"],
    ["response", "HTTP/1.1 200 O\u0001", "HTTP_INVALID_STATUS_LINE"],
    ["response", "HTTP/1.1 200 OK\r\nX: a\u0000", "HTTP_INVALID_HEADER_VALUE"],
  ];
  for (const [kind, prefix, code] of cases) {
    const data = bytes(prefix);
    // Whole, byte by byte, and split everywhere: the byte that breaks the grammar fails the head.
    for (const chunks of splits(data)) {
      const outcome = feedAll(new HeadParser(kind), chunks);
      assert.deepEqual(outcome.error?.code, code, `${JSON.stringify(prefix)} split into ${chunks.map((c) => c.length).join("+")}`);
    }
  }
  // A valid prefix is only incomplete, however far it goes.
  for (const [kind, prefix] of [["request", "GET / HTTP/1.1\r\nHost: a\r\nX: \u0001\u00ff"], ["response", "HTTP/1.1 200 OK\r\nX: 1\r\n"]] as const) {
    for (const chunks of splits(bytes(prefix))) assert.deepEqual(feedAll(new HeadParser(kind), chunks), {}, prefix);
  }
});

test("pipelined requests in one chunk are parsed one after the other", () => {
  const parser = new HeadParser("request");
  const data = bytes("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n");
  const first = parser.feed(data, 0);
  assert.equal(parser.target, "/1");
  parser.reset();
  assert.equal(parser.feed(data, first), data.length);
  assert.equal(parser.target, "/2");
  assert.equal(parser.host, "b");
});

test("feeding a finished parser without reset throws", () => {
  const parser = new HeadParser("request");
  parser.feed(bytes(GET));
  assert.throws(() => parser.feed(bytes(GET)), /reset\(\)/);
});

test("head size limit: 15,360 bytes pass, one more fails with 400 (502 for a response)", () => {
  assert.equal(DEFAULT_MAX_HEAD_BYTES, 15360);
  const prefix = "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: ";
  const fill = DEFAULT_MAX_HEAD_BYTES - prefix.length - 4;
  const exact = bytes(prefix + "v".repeat(fill) + "\r\n\r\n");
  assert.equal(exact.length, DEFAULT_MAX_HEAD_BYTES);
  const parser = new HeadParser("request");
  assert.equal(parser.feed(exact), exact.length);
  const over = bytes(prefix + "v".repeat(fill + 1) + "\r\n\r\n");
  for (const chunks of [[over], [over.subarray(0, 8000), over.subarray(8000)]]) {
    parser.reset();
    let result = HEAD_INCOMPLETE;
    for (const chunk of chunks) if (result === HEAD_INCOMPLETE) result = parser.feed(chunk);
    assert.equal(result, HEAD_FAILED);
    assert.equal(parser.error!.code, "HTTP_HEAD_TOO_LARGE");
    assert.equal(parser.error!.status, 400);
  }
  // A head that never ends fails as soon as the limit is passed, without waiting for CRLF.
  parser.reset();
  assert.equal(parser.feed(new Uint8Array(10000).fill(0x41)), HEAD_INCOMPLETE);
  assert.equal(parser.feed(new Uint8Array(10000).fill(0x41)), HEAD_FAILED);
  const response = new HeadParser("response", { maxHeadBytes: 64 });
  assert.equal(response.feed(bytes("HTTP/1.1 200 OK\r\nX: " + "y".repeat(64) + "\r\n\r\n")), HEAD_FAILED);
  assert.deepEqual([response.error!.code, response.error!.status], ["HTTP_HEAD_TOO_LARGE", 502]);
  // Endless empty lines before a request are bounded as well.
  const blank = new HeadParser("request", { maxHeadBytes: 100 });
  assert.equal(blank.feed(bytes("\r\n".repeat(60))), HEAD_FAILED);
  assert.equal(blank.error!.code, "HTTP_HEAD_TOO_LARGE");
});

test("header count limit: 101 lines pass, 102 fail", () => {
  assert.equal(DEFAULT_MAX_HEADER_LINES, 101);
  const build = (count: number) => {
    let head = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (let i = 1; i < count; i++) head += `X-${i}: ${i}\r\n`;
    return bytes(head + "\r\n");
  };
  const parser = new HeadParser("request");
  assert.ok(parser.feed(build(101)) > 0);
  assert.equal(parser.headerCount, 101);
  parser.reset();
  assert.equal(parser.feed(build(102)), HEAD_FAILED);
  assert.deepEqual([parser.error!.code, parser.error!.status], ["HTTP_TOO_MANY_HEADERS", 400]);
  const small = new HeadParser("response", { maxHeaderLines: 2 });
  assert.equal(small.feed(bytes("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")), HEAD_FAILED);
  assert.deepEqual([small.error!.code, small.error!.status], ["HTTP_TOO_MANY_HEADERS", 502]);
});

test("a head longer than the parser's first room keeps every line, also fed a byte at a time", () => {
  let text = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (let i = 1; i < 80; i++) text += `X-Line-${i}: value ${i}\r\n`;
  const head = bytes(text + "\r\n");
  for (const chunkSize of [head.length, 7, 1]) {
    const parser = new HeadParser("request");
    let end = HEAD_INCOMPLETE;
    for (let at = 0; at < head.length && end === HEAD_INCOMPLETE; at += chunkSize) {
      end = parser.feed(head.subarray(at, Math.min(head.length, at + chunkSize)));
    }
    assert.ok(end >= 0, `chunks of ${chunkSize}`);
    assert.equal(parser.headerCount, 80);
    assert.equal(parser.headerValue("x-line-1"), "value 1");
    assert.equal(parser.headerValue("x-line-24"), "value 24");
    assert.equal(parser.headerValue("x-line-79"), "value 79");
    // A second, short message on the grown parser.
    parser.reset();
    assert.ok(parser.feed(bytes("GET /b HTTP/1.1\r\nHost: b\r\n\r\n")) > 0);
    assert.deepEqual([parser.target, parser.headerCount, parser.headerValue("host")], ["/b", 1, "b"]);
  }
});

test("header names keep their spelling whether common or not, and all compare in lower case", () => {
  const parser = new HeadParser("response");
  const head = "HTTP/1.1 200 OK\r\nContent-Type: a\r\ncontent-type: b\r\nCONTENT-TYPE: c\r\nContent-type: d\r\n" +
    "Server: e\r\nX-Custom: f\r\nHost: g\r\nHosts: h\r\nContent-Length: 0\r\n\r\n";
  assert.ok(parser.feed(bytes(head)) > 0);
  assert.deepEqual(parser.headerNames.slice(0, parser.headerCount), [
    "Content-Type", "content-type", "CONTENT-TYPE", "Content-type", "Server", "X-Custom", "Host", "Hosts", "Content-Length",
  ]);
  assert.deepEqual(parser.headerLowerNames.slice(0, parser.headerCount), [
    "content-type", "content-type", "content-type", "content-type", "server", "x-custom", "host", "hosts", "content-length",
  ]);
  assert.equal(parser.contentLength, 0);
});

test("many parsers at once with heads split over reads, twice: spare storage with and without a kept buffer parses alike", () => {
  const parsers = Array.from({ length: 150 }, () => new HeadParser("request"));
  for (let pass = 0; pass < 2; pass++) {
    parsers.forEach((parser, index) => {
      const head = bytes(`GET /p${pass}/${index} HTTP/1.1\r\nHost: h${index}\r\nX-Pass: ${pass}\r\n\r\n`);
      assert.equal(parser.feed(head.subarray(0, 20)), HEAD_INCOMPLETE);
      assert.ok(parser.feed(head.subarray(20)) >= 0);
    });
    parsers.forEach((parser, index) => {
      assert.deepEqual([parser.target, parser.headerValue("host"), parser.headerValue("x-pass")], [`/p${pass}/${index}`, `h${index}`, `${pass}`]);
    });
    for (const parser of parsers) parser.reset();
  }
});

test("a reused parser forgets everything of the previous message", () => {
  const parser = new HeadParser("request");
  parser.feed(bytes("POST / HTTP/1.1\r\nHost: a\r\nConnection: close, X\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\nUpgrade: h2c\r\nHTTP2-Settings: x\r\nExpect: 100-continue\r\n\r\n"));
  const fresh = new HeadParser("request");
  const next = bytes(GET);
  parser.reset();
  fresh.reset();
  parser.feed(next);
  fresh.feed(next);
  assert.deepEqual(snapshot(parser), snapshot(fresh));
});

// ---------------------------------------------------------------------------------------------
// Chunked decoder

interface Decoded {
  payload?: string;
  end?: number;
  error?: string;
  status?: number;
}

/** Decodes the chunks in order; `end` is the absolute offset where the body ended. */
function decodeAll(decoder: ChunkedDecoder, chunks: Uint8Array[], passThrough = false): Decoded {
  decoder.reset();
  let payload = "";
  let before = 0;
  let forwarded = "";
  for (const chunk of chunks) {
    const result = passThrough ? decoder.passThrough(chunk, 0) : decoder.decode(chunk, 0);
    if (result === CHUNKED_FAILED) return { error: decoder.error!.code, status: decoder.error!.status };
    if (passThrough) forwarded += text(chunk.subarray(0, result));
    else {
      for (let r = 0; r < decoder.rangeCount; r++) {
        payload += text(chunk.subarray(decoder.ranges[2 * r]!, decoder.ranges[2 * r + 1]!));
      }
    }
    if (decoder.done) {
      return { payload: passThrough ? forwarded : payload, end: before + result };
    }
    assert.equal(result, chunk.length);
    before += chunk.length;
  }
  return { payload: passThrough ? forwarded : payload };
}

function decodeEveryWay(raw: string, options = {}): Decoded {
  const data = bytes(raw);
  const decoder = new ChunkedDecoder(options);
  const reference = decodeAll(decoder, [data]);
  for (const chunks of splits(data)) {
    assert.deepEqual(decodeAll(decoder, chunks), reference, `split into ${chunks.map((c) => c.length).join("+")}`);
    const passed = decodeAll(decoder, chunks, true);
    if (reference.error !== undefined) assert.deepEqual(passed, reference);
    else {
      assert.equal(passed.end, reference.end);
      // Pass-through forwards the framing as it is, up to the end of the body.
      if (reference.end !== undefined) assert.equal(passed.payload, raw.slice(0, reference.end));
    }
  }
  return reference;
}

test("chunked: payload and end found whatever the split, next message untouched", () => {
  const body = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  const result = decodeEveryWay(body + "GET / HTTP/1.1\r\n");
  assert.deepEqual(result, { payload: "hello world", end: body.length });
});

test("chunked: upper- and lower-case hex, leading zeros, large chunks", () => {
  const big = "z".repeat(0x1a3);
  assert.deepEqual(decodeEveryWay(`1A3\r\n${big}\r\n00000\r\n\r\n`).payload, big);
  assert.deepEqual(decodeEveryWay(`1a3\r\n${big}\r\n0\r\n\r\n`).payload, big);
  assert.equal(decodeEveryWay("0000000000000005\r\nhello\r\n0\r\n\r\n").payload, "hello");
});

test("chunked: extensions are skipped and bounded", () => {
  assert.equal(decodeEveryWay('5;name=value;q="x y"\r\nhello\r\n0;last\r\n\r\n').payload, "hello");
  assert.equal(decodeEveryWay("5 ; ext\r\nhello\r\n0 \r\n\r\n").payload, "hello");
  const long = `5;${"e".repeat(5000)}\r\nhello\r\n0\r\n\r\n`;
  assert.equal(decodeEveryWay(long).error, "HTTP_CHUNK_EXTENSION_TOO_LONG");
  assert.equal(decodeEveryWay(`5;${"e".repeat(100)}\r\nhello\r\n0\r\n\r\n`, { maxChunkLineBytes: 50 }).error, "HTTP_CHUNK_EXTENSION_TOO_LONG");
  assert.equal(decodeEveryWay("5;a\u0001b\r\nhello\r\n0\r\n\r\n").error, "HTTP_INVALID_CHUNK_EXTENSION");
  assert.equal(decodeEveryWay("5;ab\nhello\r\n0\r\n\r\n").error, "HTTP_BARE_LF");
});

test("chunked: trailers are validated, bounded, and part of the body", () => {
  const body = "3\r\nabc\r\n0\r\nX-Checksum: 42\r\nX-Other:\r\n\r\n";
  assert.deepEqual(decodeEveryWay(body + "NEXT"), { payload: "abc", end: body.length });
  assert.equal(decodeEveryWay("0\r\nX-T: " + "v".repeat(200) + "\r\n\r\n", { maxTrailerBytes: 100 }).error, "HTTP_TRAILERS_TOO_LARGE");
  assert.equal(decodeEveryWay("0\r\nX-T: 1\r\n folded\r\n\r\n").error, "HTTP_INVALID_TRAILER");
  assert.equal(decodeEveryWay("0\r\nX T: 1\r\n\r\n").error, "HTTP_INVALID_TRAILER");
  assert.equal(decodeEveryWay("0\r\nX-T: a\u0000\r\n\r\n").error, "HTTP_INVALID_TRAILER");
  assert.equal(decodeEveryWay("0\r\nX-T: a\rb\r\n\r\n").error, "HTTP_BARE_CR");
  assert.equal(decodeEveryWay("0\r\n\rX").error, "HTTP_BARE_CR");
});

test("chunked: bad sizes and overflow are refused", () => {
  for (const [raw, code] of [
    ["g\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["-1\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["0x5\r\nhello\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["+5\r\nhello\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    [" 5\r\nhello\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["5 x\r\nhello\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["5\nhello\r\n", "HTTP_INVALID_CHUNK_SIZE"],
    ["5\rhello\r\n", "HTTP_BARE_CR"],
    ["00000000000000005\r\nhello\r\n", "HTTP_CHUNK_SIZE_OVERFLOW"],
    ["FFFFFFFFFFFFFFFF\r\n", "HTTP_CHUNK_SIZE_OVERFLOW"],
    ["20000000000000\r\n", "HTTP_CHUNK_SIZE_OVERFLOW"],
  ] as const) {
    const result = decodeEveryWay(raw);
    assert.deepEqual([result.error, result.status], [code, 400], JSON.stringify(raw));
  }
});

test("chunked: CRLF after the data is required", () => {
  assert.equal(decodeEveryWay("5\r\nhelloX\r\n0\r\n\r\n").error, "HTTP_MISSING_CHUNK_CRLF");
  assert.equal(decodeEveryWay("5\r\nhello\rX0\r\n\r\n").error, "HTTP_MISSING_CHUNK_CRLF");
  assert.equal(decodeEveryWay("5\r\nhello\n0\r\n\r\n").error, "HTTP_MISSING_CHUNK_CRLF");
  assert.equal(decodeEveryWay("5\r\nhello0\r\n\r\n").error, "HTTP_MISSING_CHUNK_CRLF");
});

test("chunked: a response body's errors answer 502, and an unfinished body stays open", () => {
  const decoder = new ChunkedDecoder({ kind: "response" });
  assert.equal(decoder.decode(bytes("zz")), CHUNKED_FAILED);
  assert.equal(decoder.error!.status, 502);
  assert.throws(() => decoder.decode(bytes("0\r\n\r\n")), /reset\(\)/);
  decoder.reset();
  assert.equal(decoder.decode(bytes("a\r\n01234")), 8);
  assert.equal(decoder.done, false);
  assert.equal(decoder.payloadBytes, 5);
  assert.deepEqual(decoder.ranges.slice(0, 2 * decoder.rangeCount), [3, 8]);
  // Decoding from an offset reports offsets within the same chunk.
  decoder.reset();
  const data = bytes("HEAD....2\r\nab\r\n1\r\nc\r\n0\r\n\r\nrest");
  assert.equal(decoder.decode(data, 8), data.length - 4);
  assert.equal(decoder.done, true);
  assert.deepEqual(decoder.ranges.slice(0, 2 * decoder.rangeCount), [11, 13, 18, 19]);
  assert.equal(decoder.payloadBytes, 3);
});

test("chunked: one-byte chunks of data are reported as one range per byte", () => {
  let raw = "";
  for (let i = 0; i < 50; i++) raw += "1\r\n" + String.fromCharCode(65 + (i % 26)) + "\r\n";
  raw += "0\r\n\r\n";
  const result = decodeEveryWay(raw);
  assert.equal(result.payload!.length, 50);
  assert.equal(result.end, raw.length);
});

// ---------------------------------------------------------------------------------------------
// Serialization

function parse(kind: MessageKind, raw: string, requestMethod = ""): HeadParser {
  const parser = new HeadParser(kind);
  parser.reset(requestMethod);
  const result = parser.feed(bytes(raw));
  assert.ok(result >= 0, `parse failed: ${parser.error?.message}`);
  return parser;
}

test("serialize: a canonical head round-trips byte for byte", () => {
  for (const [kind, raw] of [
    ["request", GET],
    ["request", "POST /a?b=c HTTP/1.0\r\nHost: x\r\nContent-Length: 3\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Latin: \u00e9\u00ff\u0080\r\n\r\n"],
    ["response", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n"],
    ["response", "HTTP/1.0 404 \r\n\r\n"],
    ["response", "HTTP/1.1 599 Custom \u00e9\u0085\u009f reason\r\nTrailer: X-Checksum\r\nTransfer-Encoding: chunked\r\n\r\n"],
  ] as const) {
    assert.equal(text(serializeHead(parse(kind, raw))), raw);
  }
});

test("serialize: a reparsed head equals the original", () => {
  const raw = "PUT /x HTTP/1.1\r\nhost:a\r\nX-Sp:   v  \r\nContent-Length: 5, 5\r\n\r\n";
  const first = parse("request", raw);
  const rebuilt = serializeHead(first);
  assert.equal(text(rebuilt), "PUT /x HTTP/1.1\r\nhost: a\r\nX-Sp: v\r\nContent-Length: 5\r\n\r\n");
  const second = parse("request", text(rebuilt));
  assert.deepEqual(snapshot(second), { ...snapshot(first), headBytes: rebuilt.length });
});

test("serialize: status without reason is written with an empty reason", () => {
  assert.equal(text(serializeHead(parse("response", "HTTP/1.1 204\r\n\r\n"))), "HTTP/1.1 204 \r\n\r\n");
});

test("serialize: hop-by-hop headers are removed, added headers appended", () => {
  const head = parse(
    "request",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop, Host, Content-Length\r\nKeep-Alive: timeout=5\r\n" +
      "Proxy-Connection: keep-alive\r\nX-Hop: 1\r\nTE: trailers, deflate\r\nUpgrade: websocket\r\nX-End: 1\r\n" +
      "Content-Length: 0\r\nTrailer: X-Sum\r\n\r\n",
  );
  const out = text(serializeHead(head, { addHeaders: ["Connection", "close", "X-Forwarded-For", "10.0.0.1"] }));
  assert.equal(
    out,
    "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nX-End: 1\r\nContent-Length: 0\r\nTrailer: X-Sum\r\n" +
      "Connection: close\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n",
  );
  assert.equal(isForwarded(head, 0), true);
  assert.equal(isForwarded(head, 1), false);
});

test("serialize: TE is kept only as trailers (HAProxy reg-test c5)", () => {
  for (const [value, kept] of [["trailers, gzip", true], ["gzip", false], ["trailers;q=0.5", false], ["Trailers", true]] as const) {
    const out = text(serializeHead(parse("request", `POST / HTTP/1.1\r\nHost: a\r\nTE: ${value}\r\n\r\n`)));
    assert.equal(out, `POST / HTTP/1.1\r\nHost: a\r\n${kept ? "TE: trailers\r\n" : ""}\r\n`, value);
  }
});

test("serialize: the TE + CL request rebuilds without Content-Length (HAProxy reg-test c1)", () => {
  const head = parse(
    "request",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 31\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n",
  );
  assert.equal(head.chunked, true);
  assert.equal(head.closeAfterResponse, true);
  assert.equal(text(serializeHead(head)), "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  // The body ends after "0\r\n\r\n": the smuggled request is left for the next parse (and the
  // connection is closed instead, as closeAfterResponse says).
  const rest = bytes("0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
  const decoder = new ChunkedDecoder();
  assert.equal(decoder.passThrough(rest), 5);
  assert.equal(decoder.done, true);
});

test("serialize: h2c upgrade is never forwarded, a WebSocket upgrade is when asked", () => {
  const h2c = parse(
    "request",
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n",
  );
  assert.equal(text(serializeHead(h2c)), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  assert.equal(text(serializeHead(h2c, { keepUpgrade: true })), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const mixed = parse("request", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c, websocket\r\n\r\n");
  assert.equal(
    text(serializeHead(mixed, { keepUpgrade: true, addHeaders: ["Connection", "upgrade"] })),
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
  );
  assert.equal(withoutH2c("H2C/1, websocket , h2c"), "websocket");
  const switching = parse("response", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  assert.equal(
    text(serializeHead(switching, { keepUpgrade: true, addHeaders: ["Connection", "Upgrade"] })),
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  );
});

test("serialize: many headers grow the reused scratch space", () => {
  let raw = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (let i = 0; i < 100; i++) raw += `X-${i}: ${i}\r\n`;
  raw += "\r\n";
  assert.equal(text(serializeHead(parse("request", raw))), raw);
  assert.equal(text(serializeHead(parse("request", GET))), GET);
});
