/**
 * Request targets that are not origin-form ("/path?query"): the absolute form a client sends to a
 * proxy ("http://host:port/path", RFC 9112 3.2.2), checked and normalised once per request.
 *
 * A proxy must forward such a request with the target's authority as Host, whatever Host the
 * client sent (RFC 9112 3.2.2), so the authority has to be one a server can be reached by:
 * - the scheme is http or https (case-insensitive): any other is refused, there is nothing to
 *   forward it to (HAProxy 2.6 forwards "ftp://..." as it came);
 * - an authority is present and its host is not empty (RFC 9110 4.2.1 and 4.2.2);
 * - no user information ("user:pw@host"): RFC 9110 4.2.4 deprecates it and a Host cannot carry it;
 * - the port, when given, is decimal and at most 65535; an empty port and the scheme's default
 *   port are dropped, as HAProxy 2.6 normalises them ("http://h:80/" becomes "http://h/");
 * - the host is an IP literal in brackets or RFC 3986 reg-name characters.
 * The request line keeps the absolute form, as HAProxy 2.6 forwards it (docs/config.md, http mode).
 *
 * Origin-form targets never come here: the parser tests the first character, so the common
 * request pays nothing.
 *
 * @module
 */

import { quote } from "./_bytes.ts";
import type { HttpErrorCode } from "./errors.ts";

const SLASH = 0x2f;
const COLON = 0x3a;
const QUESTION = 0x3f;
const AT = 0x40;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const PERCENT = 0x25;

/** Highest TCP port. */
const MAX_PORT = 65535;

/** 1 for the bytes RFC 3986 allows in a reg-name besides pct-encoded ones: unreserved and sub-delims. */
const REG_NAME_CHARS: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const symbols = "-._~!$&'()*+,;=";
  for (let c = 0x30; c <= 0x39; c++) table[c] = 1;
  for (let c = 0x41; c <= 0x5a; c++) table[c] = 1;
  for (let c = 0x61; c <= 0x7a; c++) table[c] = 1;
  for (let i = 0; i < symbols.length; i++) table[symbols.charCodeAt(i)] = 1;
  return table;
})();

/** An absolute-form target as forwarded, or why it cannot be. */
export interface AbsoluteTarget {
  /** The target to forward (the received one, unless its port was dropped); "" when refused. */
  readonly target: string;
  /** The authority to forward as Host; "" when refused. */
  readonly authority: string;
  /** Why the target is refused (answered with 400), or null. */
  readonly errorCode: HttpErrorCode | null;
  readonly errorMessage: string;
}

function refused(code: HttpErrorCode, message: string): AbsoluteTarget {
  return { target: "", authority: "", errorCode: code, errorMessage: message };
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

function isAlpha(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

/** Whether `c` may follow the first letter of a URI scheme (RFC 3986 3.1). */
function isSchemeChar(c: number): boolean {
  return isAlpha(c) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e;
}

/**
 * Checks a request target that does not start with "/" (and is not CONNECT's authority-form nor
 * OPTIONS' "*": the caller leaves those alone). The target holds only the bytes the parser lets
 * through (visible ASCII, no "#").
 */
export function checkAbsoluteTarget(target: string): AbsoluteTarget {
  const length = target.length;
  let i = 0;
  if (length > 0 && isAlpha(target.charCodeAt(0))) {
    i = 1;
    while (i < length && isSchemeChar(target.charCodeAt(i))) i++;
  }
  if (i === 0 || i >= length || target.charCodeAt(i) !== COLON) {
    return refused(
      "HTTP_INVALID_TARGET",
      `Request target ${quote(target)} is neither origin-form ("/path") nor absolute-form ("http://host/path")`,
    );
  }
  const schemeEnd = i;
  const scheme = target.slice(0, schemeEnd).toLowerCase();
  let defaultPort: string;
  if (scheme === "http") defaultPort = "80";
  else if (scheme === "https") defaultPort = "443";
  else {
    return refused("HTTP_UNSUPPORTED_SCHEME", `Request target ${quote(target)} has scheme ${quote(scheme)}: only http and https are forwarded`);
  }
  if (schemeEnd + 2 >= length || target.charCodeAt(schemeEnd + 1) !== SLASH || target.charCodeAt(schemeEnd + 2) !== SLASH) {
    return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has no authority (host)`);
  }
  const authorityStart = schemeEnd + 3;
  let authorityEnd = authorityStart;
  while (authorityEnd < length) {
    const c = target.charCodeAt(authorityEnd);
    if (c === SLASH || c === QUESTION) break;
    if (c === AT) {
      return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} carries user information before its host`);
    }
    authorityEnd++;
  }
  // The host: an IP literal in brackets, or a reg-name (IPv4 addresses are reg-name characters).
  let hostEnd = authorityStart;
  if (hostEnd < authorityEnd && target.charCodeAt(hostEnd) === OPEN_BRACKET) {
    hostEnd++;
    while (hostEnd < authorityEnd && target.charCodeAt(hostEnd) !== CLOSE_BRACKET) {
      const c = target.charCodeAt(hostEnd);
      if (!isHexDigit(c) && c !== COLON && c !== 0x2e) {
        return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has an invalid IP literal`);
      }
      hostEnd++;
    }
    if (hostEnd >= authorityEnd || hostEnd === authorityStart + 1) {
      return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has an invalid IP literal`);
    }
    hostEnd++;
  } else {
    while (hostEnd < authorityEnd) {
      const c = target.charCodeAt(hostEnd);
      if (c === COLON) break;
      if (c === PERCENT) {
        if (hostEnd + 2 >= authorityEnd || !isHexDigit(target.charCodeAt(hostEnd + 1)) || !isHexDigit(target.charCodeAt(hostEnd + 2))) {
          return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has an invalid percent-encoding in its host`);
        }
        hostEnd += 3;
        continue;
      }
      if (REG_NAME_CHARS[c] !== 1) {
        return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has a character that is not allowed in a host`);
      }
      hostEnd++;
    }
  }
  if (hostEnd === authorityStart) {
    return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has an empty host`);
  }
  if (hostEnd === authorityEnd) {
    const authority = target.slice(authorityStart, authorityEnd);
    return { target, authority, errorCode: null, errorMessage: "" };
  }
  if (target.charCodeAt(hostEnd) !== COLON) {
    return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has a character that is not allowed after its host`);
  }
  let port = 0;
  for (let p = hostEnd + 1; p < authorityEnd; p++) {
    const digit = target.charCodeAt(p) - 0x30;
    if (digit < 0 || digit > 9) {
      return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has a port that is not a number`);
    }
    port = port * 10 + digit;
    if (port > MAX_PORT) {
      return refused("HTTP_INVALID_AUTHORITY", `Request target ${quote(target)} has a port above ${MAX_PORT}`);
    }
  }
  const portText = target.slice(hostEnd + 1, authorityEnd);
  if (portText !== "" && portText !== defaultPort) {
    return { target, authority: target.slice(authorityStart, authorityEnd), errorCode: null, errorMessage: "" };
  }
  // An empty or default port is dropped from the target and from the Host made of it.
  return {
    target: target.slice(0, hostEnd) + target.slice(authorityEnd),
    authority: target.slice(authorityStart, hostEnd),
    errorCode: null,
    errorMessage: "",
  };
}

/**
 * The absolute-form `target` with its authority replaced by `authority`: a rule that sets Host on
 * such a request changes where it goes, so the target follows (HAProxy keeps both in step).
 * Targets without an authority are returned unchanged.
 */
export function replaceAuthority(target: string, authority: string): string {
  const separator = target.indexOf("://");
  if (separator <= 0 || target.charCodeAt(0) === SLASH) return target;
  const start = separator + 3;
  let end = start;
  while (end < target.length) {
    const c = target.charCodeAt(end);
    if (c === SLASH || c === QUESTION) break;
    end++;
  }
  return target.slice(0, start) + authority + target.slice(end);
}
