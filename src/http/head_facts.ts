/**
 * The facts a parsed head's header lines decide (RFC 9112 6 and 9, RFC 9110 7.2): how the body is
 * framed (Content-Length, Transfer-Encoding, or until close), whether the connection persists
 * (Connection), the Host (and an absolute-form target's authority replacing it), Upgrade and
 * Expect; every ambiguity that enables request smuggling is an error or closes the connection
 * after the exchange, and what is valid but ambiguous is normalised before the head is forwarded.
 *
 * Run once per head by the parser (head_parser.ts) when its lines are sliced, over the parser's
 * arrays: one pass over the names, the length of each name first, so most headers cost one
 * integer comparison; the values of the framing headers are read by framing.ts.
 *
 * @module
 */

import { quote } from "./_bytes.ts";
import { checkAbsoluteTarget } from "./request_target.ts";
import {
  CODINGS_CHUNKED_SHIFT,
  CODINGS_EMPTY,
  CODINGS_INVALID,
  CODINGS_LAST_CHUNKED,
  CODINGS_OTHER,
  CONTENT_LENGTH_CONFLICT,
  CONTENT_LENGTH_INVALID,
  collectTokens,
  joinCodings,
  listHasToken,
  parseContentLength,
  sameHost,
  scanCodings,
} from "./framing.ts";
import { BODY_CHUNKED, BODY_CONTENT_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE } from "./framing.ts";
import type { HeadParser } from "./head_parser.ts";

const SLASH = 47;

/**
 * Reads the headers that decide framing and connection handling into `head`'s fields, applies
 * RFC 9112 6, and normalises the lines; false when the head fails (`head.error` says why).
 */
export function deriveHeadFacts(head: HeadParser): boolean {
  const isRequest = head.kind === "request";
  const count = head.headerCount;
  const lowerNames = head.headerLowerNames;
  const values = head.headerValues;
  let hostIndex = -1;
  let hostRepeated = false;
  let contentLength = -1;
  let contentLengthIndex = -1;
  let contentLengthHeaders = 0;
  let contentLengthListed = false;
  let transferEncodingIndex = -1;
  let transferEncodings = 0;
  let chunkedCount = 0;
  let lastCodingChunked = false;
  let otherCodings = false;
  for (let i = 0; i < count; i++) {
    const name = lowerNames[i]!;
    // The length prefilter keeps most headers to one integer comparison.
    switch (name.length) {
      case 4:
        if (name === "host" && isRequest) {
          const value = values[i]!;
          if (hostIndex < 0) {
            hostIndex = i;
            head.host = value;
          } else if (sameHost(head.host!, value)) {
            // HAProxy 2.6 forwards one Host line for several that agree (case aside).
            hostRepeated = true;
          } else {
            // HAProxy answers 400 to several Host headers that disagree (RFC 9112 3.2).
            return head.failWith("HTTP_CONFLICTING_HOST", `Host headers disagree: ${quote(head.host!)} and ${quote(value)}`);
          }
        }
        break;
      case 6:
        if (name === "expect" && isRequest) {
          // RFC 9110 10.1.1: a server must ignore 100-continue in an HTTP/1.0 request.
          if (head.version === "1.1" && values[i]!.toLowerCase() === "100-continue") head.expectContinue = true;
        }
        break;
      case 7:
        if (name === "upgrade") {
          const value = values[i]!;
          head.upgrade = head.upgrade === undefined ? value : head.upgrade + ", " + value;
          if (isRequest && listHasToken(value, "h2c")) head.h2cUpgrade = true;
        }
        break;
      case 10:
        if (name === "connection") {
          collectTokens(values[i]!, head.connectionTokens);
        }
        break;
      case 14:
        if (name === "content-length") {
          const value = values[i]!;
          const length = parseContentLength(value);
          if (length === CONTENT_LENGTH_INVALID) {
            return head.failWith("HTTP_INVALID_CONTENT_LENGTH", `Content-Length ${quote(value)} is not a number`);
          }
          if (length === CONTENT_LENGTH_CONFLICT || (contentLength >= 0 && length !== contentLength)) {
            // RFC 9112 6.3 point 5: differing values are unrecoverable framing errors.
            return head.failWith("HTTP_CONFLICTING_CONTENT_LENGTH", `Content-Length ${quote(value)} conflicts with another value`);
          }
          contentLength = length;
          if (contentLengthIndex < 0) contentLengthIndex = i;
          // Without a comma the value is digits only (parseContentLength allows spaces only before one).
          if (value.indexOf(",") >= 0) contentLengthListed = true;
          contentLengthHeaders++;
        } else if (name === "http2-settings") {
          head.hasHttp2Settings = true;
        }
        break;
      case 17:
        if (name === "transfer-encoding") {
          const value = values[i]!;
          if (transferEncodingIndex < 0) transferEncodingIndex = i;
          transferEncodings++;
          const found = scanCodings(value);
          if (found === CODINGS_INVALID) {
            return head.failWith("HTTP_INVALID_TRANSFER_ENCODING", `Transfer-Encoding ${quote(value)} is malformed`);
          }
          // Only the last coding of the last non-empty header counts as "last" (RFC 9110 5.3).
          if (found !== CODINGS_EMPTY) lastCodingChunked = (found & CODINGS_LAST_CHUNKED) !== 0;
          if ((found & CODINGS_OTHER) !== 0) otherCodings = true;
          chunkedCount += found >> CODINGS_CHUNKED_SHIFT;
        }
        break;
    }
  }

  const tokens = head.connectionTokens;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    if (token === "close") head.connectionClose = true;
    else if (token === "keep-alive") head.connectionKeepAlive = true;
    else if (token === "upgrade") head.connectionUpgrade = true;
  }
  // RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
  head.keepAlive = !head.connectionClose && (head.version === "1.1" || head.connectionKeepAlive);

  let authority: string | null = null;
  if (isRequest) {
    if (head.host === undefined && head.version === "1.1") {
      return head.failWith("HTTP_MISSING_HOST", "HTTP/1.1 request has no Host header");
    }
    // Not origin-form: absolute-form, unless CONNECT's authority-form or OPTIONS' "*".
    const target = head.target;
    if (target.charCodeAt(0) !== SLASH && target !== "*" && head.method !== "CONNECT") {
      const checked = checkAbsoluteTarget(target);
      if (checked.errorCode !== null) return head.failWith(checked.errorCode, checked.errorMessage);
      head.target = checked.target;
      authority = checked.authority;
    }
  } else {
    head.interim = head.status < 200 && head.status !== 101;
  }

  let dropContentLength = false;
  if (transferEncodings > 0) {
    if (head.version === "1.0") {
      // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing, and the connection
      // must be closed after the message. HAProxy still reads the body as chunked, then closes
      // (reg-test http-messaging/http_transfer_encoding.vtc, clients c2 and c3).
      head.markFramingConflict();
      head.closeAfterResponse = true;
    }
    if (chunkedCount > 1) {
      return head.failWith("HTTP_CHUNKED_TWICE", "Transfer-Encoding applies chunked more than once");
    }
    if (contentLengthHeaders > 0) {
      // RFC 9112 6.1 and 6.3 point 3: Transfer-Encoding overrides Content-Length, which must be
      // removed before forwarding, and the connection closed after the response (HAProxy too).
      dropContentLength = true;
      head.markFramingConflict();
      head.closeAfterResponse = true;
    }
    if (lastCodingChunked) {
      if (isRequest && otherCodings) {
        // HAProxy answers 422 to "gzip, chunked": framed correctly, but a coding no server
        // behind a proxy is expected to decode (RFC 9112 6.1 suggests 501).
        return head.failWith(
          "HTTP_UNSUPPORTED_TRANSFER_CODING",
          "Transfer-Encoding of a request applies a coding other than chunked",
          422,
        );
      }
      head.chunked = true;
      head.bodyKind = BODY_CHUNKED;
    } else if (isRequest) {
      // RFC 9112 6.3 point 4: a request whose last coding is not chunked cannot be framed.
      return head.failWith("HTTP_CHUNKED_NOT_LAST", "Transfer-Encoding of a request does not end with chunked");
    } else {
      head.bodyKind = BODY_UNTIL_CLOSE;
      head.closeAfterResponse = true;
    }
  } else if (contentLength >= 0) {
    head.contentLength = contentLength;
    head.bodyKind = contentLength > 0 ? BODY_CONTENT_LENGTH : BODY_NONE;
  } else if (isRequest) {
    // RFC 9112 6.3 point 6: a request without either has no body.
    head.bodyKind = BODY_NONE;
  } else {
    // RFC 9112 6.3 point 8: a response without either runs until the server closes.
    head.bodyKind = BODY_UNTIL_CLOSE;
    head.closeAfterResponse = true;
  }

  // Normalisation: the values first (their indexes are still right), then the lines removed.
  // None of it happens for a head with one Host, at most one plain Content-Length and at most
  // one "Transfer-Encoding: chunked" in origin-form: the common head costs nothing here.
  let codings = "";
  const normaliseCodings = transferEncodings > 1 || (transferEncodings === 1 && values[transferEncodingIndex] !== "chunked");
  if (normaliseCodings) {
    // The coding list the proxy applies, not the client's text: empty members out, names in
    // lower case, one line.
    codings = joinCodings(lowerNames, values, count);
    if (codings !== "") values[transferEncodingIndex] = codings;
  }
  const normaliseLength = !dropContentLength && (contentLengthHeaders > 1 || contentLengthListed);
  if (normaliseLength) values[contentLengthIndex] = String(contentLength);
  if (authority !== null) {
    // RFC 9112 3.2.2: a proxy ignores the received Host and sends the target's authority.
    head.host = authority;
    if (hostIndex >= 0) values[hostIndex] = authority;
    else head.appendLine("Host", "host", authority);
  }
  if (dropContentLength) head.removeLines("content-length", false);
  else if (contentLengthHeaders > 1) head.removeLines("content-length", true);
  if (normaliseCodings) head.removeLines("transfer-encoding", codings !== "");
  if (hostRepeated) head.removeLines("host", true);
  return true;
}
