/**
 * The responses the proxy generates itself. The built-in pages are HAProxy's (src/http_htx.c,
 * `http_err_msgs`): a short HTML body with Content-Length, `Cache-Control: no-cache` and
 * `Content-Type: text/html`. A section's `errorfiles` replace them status by status, as HAProxy's
 * `errorfile <code> <file>` does.
 *
 * Every page comes in three forms that differ only in their Connection header: `close` (the
 * connection ends after it, the usual case, since the state of the message it answers may be
 * unknown), `keep-alive` (an HTTP/1.0 client that asked to keep the connection) and none (an
 * HTTP/1.1 connection that stays open). A Connection header written in an errorfile is replaced.
 *
 * Each form is built on first use and then shared: connections never modify the chunks they are
 * given, so callers must not either.
 *
 * @module
 */

import type { ErrorFileConfig } from "../config/types.ts";
import { parseErrorFile } from "./error_file.ts";
import type { ParsedErrorFile } from "./error_file.ts";

/** The Connection header a page carries; null: none. */
export type ErrorPageConnection = "close" | "keep-alive" | null;

/**
 * Status lines and explanations, with HAProxy's wording (its full list, since a `deny` rule may
 * answer any of them, plus 505, which this proxy sends for an unknown HTTP version).
 */
const PAGES: Record<number, readonly [reason: string, text: string]> = {
  200: ["OK", "Service ready."],
  400: ["Bad Request", "Your browser sent an invalid request."],
  401: ["Unauthorized", "You need a valid user and password to access this content."],
  403: ["Forbidden", "Request forbidden by administrative rules."],
  404: ["Not Found", "The resource could not be found."],
  405: ["Method Not Allowed", "A request was made of a resource using a request method not supported by that resource"],
  407: ["Proxy Authentication Required", "You need a valid user and password to access this content."],
  408: ["Request Timeout", "Your browser didn't send a complete request in time."],
  410: ["Gone", "The resource is no longer available and will not be available again."],
  413: ["Payload Too Large", "The request entity exceeds the maximum allowed."],
  421: ["Misdirected Request", "The request was directed at a server that is not able to produce a response."],
  422: ["Unprocessable Content", "The server cannot process the request."],
  425: ["Too Early", "Your browser sent early data."],
  429: ["Too Many Requests", "You have sent too many requests in a given amount of time."],
  500: ["Internal Server Error", "An internal server error occurred."],
  501: ["Not Implemented", "The server does not support the functionality required to fulfill the request."],
  502: ["Bad Gateway", "The server returned an invalid or incomplete response."],
  503: ["Service Unavailable", "No server is available to handle this request."],
  504: ["Gateway Timeout", "The server didn't respond in time."],
  505: ["HTTP Version Not Supported", "The HTTP version of the request is not supported."],
};

/** Statuses that have a built-in page; any other gets a generic one with the 400 or 500 text. */
export const BUILTIN_ERROR_STATUSES: readonly number[] = Object.freeze(Object.keys(PAGES).map(Number));

const encoder = new TextEncoder();

function connectionLine(connection: ErrorPageConnection): string {
  return connection === null ? "" : `Connection: ${connection}\r\n`;
}

function buildBuiltin(status: number, connection: ErrorPageConnection): Uint8Array {
  const [reason, text] = PAGES[status] ?? [status >= 500 ? "Server Error" : "Error", PAGES[status >= 500 ? 500 : 400]![1]];
  const body = `<html><body><h1>${status} ${reason}</h1>\n${text}\n</body></html>\n`;
  const head = `HTTP/1.1 ${status} ${reason}\r\n` +
    `Content-Length: ${body.length}\r\n` +
    `Cache-Control: no-cache\r\n` +
    `Content-Type: text/html\r\n` +
    connectionLine(connection) + `\r\n`;
  return encoder.encode(head + body);
}

function buildFromFile(file: ParsedErrorFile, connection: ErrorPageConnection): Uint8Array {
  // Written as HTTP/1.1 whatever the file says: that is the version the proxy speaks.
  let head = `HTTP/1.1 ${file.status} ${file.reason}\r\n`;
  for (const [name, value] of file.headers) head += `${name}: ${value}\r\n`;
  const headBytes = encoder.encode(head + connectionLine(connection) + "\r\n");
  const page = new Uint8Array(headBytes.length + file.body.length);
  page.set(headBytes, 0);
  page.set(file.body, headBytes.length);
  return page;
}

function formIndex(connection: ErrorPageConnection): number {
  return connection === "close" ? 0 : connection === "keep-alive" ? 1 : 2;
}

/** The built-in pages are shared by every ErrorPages that falls back to them. */
const builtinCache = new Map<number, Uint8Array>();

function builtinResponse(status: number, connection: ErrorPageConnection): Uint8Array {
  const key = status * 3 + formIndex(connection);
  let page = builtinCache.get(key);
  if (page === undefined) {
    page = buildBuiltin(status, connection);
    builtinCache.set(key, page);
  }
  return page;
}

/**
 * The pages of one section: its errorfiles, then `fallback` (for HAProxy's order, the backend's
 * pages over the frontend's), then the built-in pages. Building one only parses its files, which
 * the configuration has already checked; the bytes of each page are built on first use.
 */
export class ErrorPages {
  readonly #files = new Map<number, ParsedErrorFile>();
  readonly #fallback: ErrorPages | null;
  readonly #cache = new Map<number, Uint8Array>();

  /** Throws when a file's text is not a valid errorfile (the configuration refuses those first). */
  constructor(files: readonly ErrorFileConfig[], fallback: ErrorPages | null = null) {
    for (const file of files) {
      const parsed = parseErrorFile(file.text);
      if (typeof parsed === "string") throw new Error(`Invalid errorfile "${file.path}": ${parsed}`);
      if (parsed.status !== file.status) {
        throw new Error(`Errorfile "${file.path}" answers ${parsed.status}, not ${file.status}`);
      }
      this.#files.set(file.status, parsed);
    }
    this.#fallback = fallback;
  }

  /** Whether this section, or its fallback, has its own page for `status` (else the built-in one is used). */
  has(status: number): boolean {
    return this.#files.has(status) || (this.#fallback?.has(status) ?? false);
  }

  /** The complete response (head and body) for `status`, with the given Connection header. Do not modify it. */
  response(status: number, connection: ErrorPageConnection): Uint8Array {
    const file = this.#files.get(status);
    if (file === undefined) {
      return this.#fallback === null ? builtinResponse(status, connection) : this.#fallback.response(status, connection);
    }
    const key = status * 3 + formIndex(connection);
    let page = this.#cache.get(key);
    if (page === undefined) {
      page = buildFromFile(file, connection);
      this.#cache.set(key, page);
    }
    return page;
  }
}

/** HAProxy's pages, for sections without errorfiles. */
export const BUILTIN_ERROR_PAGES: ErrorPages = new ErrorPages([]);

