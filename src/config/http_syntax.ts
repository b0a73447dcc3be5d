/**
 * What HTTP allows in the header names, header values and paths a configuration writes. Checked at
 * load time so that a rule, a matcher or a hashed header can never produce a message that is not
 * valid HTTP, or touch a header the proxy keeps right itself.
 *
 * @module
 */

import type { ConfigPath, Reader } from "./reader.ts";

/** An HTTP header name (RFC 9110 5.1: a token). */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Headers a rule may not touch, and why: the proxy keeps them right itself. */
const PROTECTED_HEADERS: Record<string, string> = {
  "content-length": "it frames the message body, which the proxy keeps consistent",
  "transfer-encoding": "it frames the message body, which the proxy keeps consistent",
  trailer: "it announces the fields after a chunked body, which the proxy forwards as they are",
  connection: "it is hop-by-hop: the proxy handles it on each connection",
  "keep-alive": "it is hop-by-hop: the proxy handles it on each connection",
  "proxy-connection": "it is hop-by-hop: the proxy handles it on each connection",
  te: "it is hop-by-hop: the proxy handles it on each connection",
  upgrade: "it is hop-by-hop: the proxy handles it on each connection",
};

/** A problem of a header value a rule writes, or undefined. */
export function headerValueProblem(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x00) return "it contains a CR, LF or NUL character, which would split or end the header";
    if (c > 0xff) return `character "${value[i]}" is not latin1: a header value is bytes, write it percent-encoded`;
  }
  return undefined;
}

/** A problem of a path (as matched or set), or undefined. */
export function pathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return `a path starts with "/"`;
  if (path.includes("?")) return `the query string is not part of a path (it starts at "?")`;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23) {
      return `spaces, "#", control and non-ASCII characters cannot appear in a request's path: write them percent-encoded, as requests carry them`;
    }
  }
  return undefined;
}

/** A header name: a token, and (`forRule`) not one the proxy must keep control of. */
export function readHeaderName(reader: Reader, path: ConfigPath, value: unknown, forRule: boolean): string | undefined {
  const name = reader.string(path, value);
  if (name === undefined) return undefined;
  if (!HEADER_NAME.test(name)) {
    reader.error(path, `Invalid header name "${name}": use letters, digits and ! # $ % & ' * + - . ^ _ \` | ~`);
    return undefined;
  }
  const protectedBecause = forRule ? PROTECTED_HEADERS[name.toLowerCase()] : undefined;
  if (protectedBecause !== undefined) {
    reader.error(path, `Header "${name}" cannot be changed by a rule: ${protectedBecause}`);
    return undefined;
  }
  return name;
}

/** A header value a rule writes (may be empty). */
export function readHeaderValue(reader: Reader, path: ConfigPath, value: unknown): string | undefined {
  const text = reader.text(path, value);
  if (text === undefined) return undefined;
  const problem = headerValueProblem(text);
  if (problem !== undefined) {
    reader.error(path, `Invalid header value ${JSON.stringify(text)}: ${problem}`);
    return undefined;
  }
  return text;
}
