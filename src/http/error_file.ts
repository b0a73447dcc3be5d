/**
 * HAProxy's errorfile format: a complete HTTP/1.x response (status line, headers, a blank line,
 * the body) kept in a file and sent instead of a built-in error page.
 *
 * A pure function of the message layer, with no dependency: the configuration layer calls it to
 * refuse a bad file when the configuration is loaded (so a broken page is a configuration error
 * with a file position, never a surprise at run time), and ErrorPages calls it to build the bytes
 * it sends, so both read a file the same way.
 *
 * @module
 */

/** One header line as written in the file. */
export type ErrorFileHeader = readonly [name: string, value: string];

/** A checked errorfile, ready to be serialized. */
export interface ParsedErrorFile {
  readonly status: number;
  /** The reason phrase as written (may be empty). */
  readonly reason: string;
  /**
   * The file's header lines in order, without the connection-scoped ones (Connection,
   * Keep-Alive, Proxy-Connection: the proxy writes its own), Content-Length last when the file
   * had none.
   */
  readonly headers: readonly ErrorFileHeader[];
  /** The body, byte for byte as in the file (UTF-8), line endings untouched. */
  readonly body: Uint8Array;
}

/** RFC 9110 5.1: a header name is a token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 9112 4: version, status code, optional reason (HTAB, SP, visible characters, obs-text). */
const STATUS_LINE = /^HTTP\/1\.[01] ([1-5][0-9]{2})(?: (.*))?$/;
/** The proxy owns these per connection; a file's copy would contradict the one it writes. */
const CONNECTION_HEADERS = new Set(["connection", "keep-alive", "proxy-connection"]);

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 57) + "..." : text);
}

/** The first control character other than HTAB in `text`, or -1. */
function controlAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return i;
  }
  return -1;
}

/**
 * Checks an errorfile's text and splits it. Lines of the head may end in CRLF or a bare LF (the
 * head is rewritten with CRLF); the body is kept as it is. Returns what is wrong, as a sentence
 * fragment naming the line ("line 3: ..."), when the text is not a complete response.
 */
export function parseErrorFile(text: string): ParsedErrorFile | string {
  // Editors may save a byte order mark: it is not part of the status line.
  let at = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineNumber = 0;
  let status = 0;
  let reason = "";
  const headers: ErrorFileHeader[] = [];
  let contentLength: string | null = null;
  for (;;) {
    const end = text.indexOf("\n", at);
    lineNumber++;
    if (end === -1) {
      return lineNumber === 1 && at >= text.length
        ? "the file is empty: expected a complete HTTP response such as \"HTTP/1.1 503 Service Unavailable\", headers, a blank line and a body"
        : "the headers do not end with a blank line: a response needs one before its body, even an empty body";
    }
    const line = text.slice(at, end > at && text.charCodeAt(end - 1) === 0x0d ? end - 1 : end);
    at = end + 1;
    if (line.includes("\r")) return `line ${lineNumber}: a bare CR is not a line ending`;
    if (lineNumber === 1) {
      const match = STATUS_LINE.exec(line);
      if (match === null || controlAt(match[2] ?? "") !== -1) {
        return `line 1: expected a status line such as "HTTP/1.1 503 Service Unavailable", found ${quote(line)}`;
      }
      status = Number(match[1]);
      reason = match[2] ?? "";
      continue;
    }
    if (line === "") break;
    if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) {
      return `line ${lineNumber}: a header line starts with a space (obsolete line folding is not allowed)`;
    }
    const colon = line.indexOf(":");
    const name = colon === -1 ? line : line.slice(0, colon);
    if (colon === -1 || !TOKEN.test(name)) {
      return `line ${lineNumber}: expected a header such as "Content-Type: text/html", found ${quote(line)}`;
    }
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (controlAt(value) !== -1) return `line ${lineNumber}: the value of header "${name}" has a control character`;
    const lower = name.toLowerCase();
    if (lower === "transfer-encoding") {
      return `line ${lineNumber}: "Transfer-Encoding" is not allowed: the page is sent whole, framed by Content-Length`;
    }
    if (lower === "content-length") {
      if (contentLength !== null) return `line ${lineNumber}: a second "Content-Length" header`;
      if (!/^[0-9]{1,15}$/.test(value)) return `line ${lineNumber}: "Content-Length" must be a number of bytes, found ${quote(value)}`;
      contentLength = value;
    }
    if (CONNECTION_HEADERS.has(lower)) continue;
    headers.push([name, value]);
  }
  const body = new TextEncoder().encode(text.slice(at));
  if (contentLength === null) {
    headers.push(["Content-Length", String(body.length)]);
  } else if (Number(contentLength) !== body.length) {
    return `"Content-Length" is ${contentLength} but the body has ${body.length} byte${body.length === 1 ? "" : "s"} (UTF-8, line endings as in the file); remove the header to have it computed`;
  }
  return Object.freeze({ status, reason, headers: Object.freeze(headers), body });
}
