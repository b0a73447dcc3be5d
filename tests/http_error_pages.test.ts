/**
 * Error pages: HAProxy's built-in pages in their three Connection forms, errorfiles parsed and
 * normalized (CRLF head, Content-Length, Connection replaced), fallbacks, and the checks that
 * refuse a malformed errorfile.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseErrorFile } from "../src/http/error_file.ts";
import type { ParsedErrorFile } from "../src/http/error_file.ts";
import { BUILTIN_ERROR_PAGES, BUILTIN_ERROR_STATUSES, ErrorPages } from "../src/http/error_pages.ts";
import type { ErrorFileConfig } from "../src/config/types.ts";

const decoder = new TextDecoder();

/** Head lines and body of a page, checking that Content-Length counts the body's bytes. */
function split(page: Uint8Array): { head: string[]; body: string } {
  const text = decoder.decode(page);
  const end = text.indexOf("\r\n\r\n");
  assert.ok(end > 0, "the head ends with an empty line");
  const head = text.slice(0, end).split("\r\n");
  const bodyBytes = page.length - new TextEncoder().encode(text.slice(0, end + 4)).length;
  const length = head.find((line) => line.toLowerCase().startsWith("content-length:"));
  assert.equal(Number(length?.split(":")[1]), bodyBytes, "Content-Length matches the body");
  return { head, body: text.slice(end + 4) };
}

function parsed(text: string): ParsedErrorFile {
  const result = parseErrorFile(text);
  if (typeof result === "string") throw new Error(result);
  return result;
}

function file(status: number, text: string, path = `${status}.http`): ErrorFileConfig {
  return { status, path, text };
}

describe("built-in pages", () => {
  test("HAProxy's pages for every status the proxy sends, framed by Content-Length", () => {
    for (const status of [400, 403, 408, 422, 429, 500, 502, 503, 504, 505]) assert.ok(BUILTIN_ERROR_STATUSES.includes(status), String(status));
    for (const status of BUILTIN_ERROR_STATUSES) {
      const { head, body } = split(BUILTIN_ERROR_PAGES.response(status, "close"));
      assert.match(head[0]!, new RegExp(`^HTTP/1\\.1 ${status} [A-Z]`));
      assert.deepEqual(head.slice(2), ["Cache-Control: no-cache", "Content-Type: text/html", "Connection: close"]);
      assert.match(body, new RegExp(`^<html><body><h1>${status} `));
    }
  });

  test("the built-in page with Connection: close is built once", () => {
    const page = BUILTIN_ERROR_PAGES.response(503, "close");
    assert.equal(page, BUILTIN_ERROR_PAGES.response(503, "close"));
    assert.equal(
      decoder.decode(page),
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 107\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n" +
        "Connection: close\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n",
    );
  });

  test("three forms: Connection close, keep-alive, or none", () => {
    const close = split(BUILTIN_ERROR_PAGES.response(408, "close"));
    const keepAlive = split(BUILTIN_ERROR_PAGES.response(408, "keep-alive"));
    const none = split(BUILTIN_ERROR_PAGES.response(408, null));
    assert.equal(close.head.at(-1), "Connection: close");
    assert.equal(keepAlive.head.at(-1), "Connection: keep-alive");
    assert.ok(none.head.every((line) => !line.startsWith("Connection")));
    assert.equal(close.body, none.body);
    assert.equal(BUILTIN_ERROR_PAGES.response(408, null), BUILTIN_ERROR_PAGES.response(408, null));
  });

  test("a status without a page of its own gets a generic one with the 400 or 500 text", () => {
    assert.match(decoder.decode(BUILTIN_ERROR_PAGES.response(418, "close")), /^HTTP\/1\.1 418 Error\r\n[^]*Your browser sent an invalid request/);
    assert.match(decoder.decode(BUILTIN_ERROR_PAGES.response(599, "close")), /^HTTP\/1\.1 599 Server Error\r\n[^]*An internal server error occurred/);
  });
});

describe("errorfiles", () => {
  const MAINTENANCE = "HTTP/1.1 503 Service Unavailable\nCache-Control: no-cache\nConnection: close\nContent-Type: text/html\n\n<h1>Maintenance</h1>\n";

  test("bare LF head lines become CRLF; the body is kept; Content-Length is added; Connection is the proxy's", () => {
    const pages = new ErrorPages([file(503, MAINTENANCE)]);
    const page = pages.response(503, "keep-alive");
    assert.equal(
      decoder.decode(page),
      "HTTP/1.1 503 Service Unavailable\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\nContent-Length: 21\r\n" +
        "Connection: keep-alive\r\n\r\n<h1>Maintenance</h1>\n",
    );
    assert.equal(pages.response(503, "keep-alive"), page);
    assert.ok(split(pages.response(503, null)).head.every((line) => !line.startsWith("Connection")));
    assert.equal(split(pages.response(503, "close")).head.at(-1), "Connection: close");
  });

  test("a CRLF file with HTTP/1.0 and its own Content-Length; UTF-8 bodies count bytes", () => {
    const pages = new ErrorPages([
      file(403, "HTTP/1.0 403 Forbidden\r\nContent-Length: 8\r\nKeep-Alive: timeout=5\r\n\r\nGo away\n"),
      file(500, "HTTP/1.1 500 Oops\n\nÉchec €\n"),
    ]);
    assert.equal(decoder.decode(pages.response(403, "close")), "HTTP/1.1 403 Forbidden\r\nContent-Length: 8\r\nConnection: close\r\n\r\nGo away\n");
    const oops = split(pages.response(500, null));
    assert.deepEqual(oops.head, ["HTTP/1.1 500 Oops", "Content-Length: 11"]);
    assert.equal(oops.body, "Échec €\n");
  });

  test("statuses without a file fall back to the fallback's pages, then to the built-in ones", () => {
    const frontend = new ErrorPages([file(503, MAINTENANCE), file(504, "HTTP/1.1 504 Slow\n\nslow\n")]);
    const backend = new ErrorPages([file(504, "HTTP/1.1 504 Too slow\n\ntoo slow\n")], frontend);
    assert.match(decoder.decode(backend.response(504, null)), /^HTTP\/1\.1 504 Too slow\r\n/);
    assert.equal(backend.response(503, "close"), frontend.response(503, "close"));
    assert.equal(backend.response(502, "close"), BUILTIN_ERROR_PAGES.response(502, "close"));
    assert.deepEqual([backend.has(504), backend.has(503), backend.has(502), BUILTIN_ERROR_PAGES.has(503)], [true, true, false, false]);
  });

  test("building refuses a text the configuration would have refused", () => {
    assert.throws(() => new ErrorPages([file(503, "oops")]), /^Error: Invalid errorfile "503\.http": /);
    assert.throws(() => new ErrorPages([file(503, "HTTP/1.1 502 Bad Gateway\n\n")]), /^Error: Errorfile "503\.http" answers 502, not 503$/);
  });
});

describe("parseErrorFile", () => {
  test("splits a response into status, reason, headers and body", () => {
    assert.deepEqual(parsed("\uFEFFHTTP/1.1 503 Busy Now\r\nRetry-After:  30 \r\nX-A:\r\n\r\nbody"), {
      status: 503,
      reason: "Busy Now",
      headers: [["Retry-After", "30"], ["X-A", ""], ["Content-Length", "4"]],
      body: new TextEncoder().encode("body"),
    });
    assert.equal(parsed("HTTP/1.1 503\n\n").reason, "");
    assert.deepEqual(parsed("HTTP/1.1 503 \nConnection: keep-alive\nProxy-Connection: close\n\n").headers, [["Content-Length", "0"]]);
  });

  test("what makes a file invalid", () => {
    const cases: Array<[string, string]> = [
      ["", `the file is empty: expected a complete HTTP response such as "HTTP/1.1 503 Service Unavailable", headers, a blank line and a body`],
      ["HTTP/1.1 503 Busy", "the headers do not end with a blank line: a response needs one before its body, even an empty body"],
      ["HTTP/1.1 503 Busy\nX: 1\n", "the headers do not end with a blank line: a response needs one before its body, even an empty body"],
      ["HTTP/2 503 Busy\n\n", `line 1: expected a status line such as "HTTP/1.1 503 Service Unavailable", found "HTTP/2 503 Busy"`],
      ["HTTP/1.1 50 Busy\n\n", `line 1: expected a status line such as "HTTP/1.1 503 Service Unavailable", found "HTTP/1.1 50 Busy"`],
      ["HTTP/1.1 503 Busy\nX: a\rb\n\n", "line 2: a bare CR is not a line ending"],
      ["HTTP/1.1 503 Busy\nX: a\n b\n\n", "line 3: a header line starts with a space (obsolete line folding is not allowed)"],
      ["HTTP/1.1 503 Busy\nno colon\n\n", `line 2: expected a header such as "Content-Type: text/html", found "no colon"`],
      ["HTTP/1.1 503 Busy\nX Y: 1\n\n", `line 2: expected a header such as "Content-Type: text/html", found "X Y: 1"`],
      ["HTTP/1.1 503 Busy\nX: a\u0001\n\n", `line 2: the value of header "X" has a control character`],
      ["HTTP/1.1 503 Busy\nTransfer-Encoding: chunked\n\n", `line 2: "Transfer-Encoding" is not allowed: the page is sent whole, framed by Content-Length`],
      ["HTTP/1.1 503 Busy\nContent-Length: 0\nContent-Length: 0\n\n", `line 3: a second "Content-Length" header`],
      ["HTTP/1.1 503 Busy\nContent-Length: -1\n\n", `line 2: "Content-Length" must be a number of bytes, found "-1"`],
      ["HTTP/1.1 503 Busy\nContent-Length: 2\n\né\n", `"Content-Length" is 2 but the body has 3 bytes (UTF-8, line endings as in the file); remove the header to have it computed`],
    ];
    for (const [text, message] of cases) assert.equal(parseErrorFile(text), message, JSON.stringify(text));
  });
});
