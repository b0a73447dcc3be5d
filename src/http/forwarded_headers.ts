/**
 * The headers an http-mode session adds to each request it forwards: X-Forwarded-For (HAProxy's
 * `option forwardfor [except <network>] [header <name>] [if-none]`), X-Forwarded-Proto and
 * X-Forwarded-Host. The frontend's and the backend's settings are combined once, when the
 * frontend is built (HAProxy applies `forwardfor` when either proxy enables it); the client's part
 * is decided once per connection; each request then only checks its headers and fills a reused
 * array of name/value pairs, with no allocation beyond the header strings.
 *
 * @module
 */

import { cidrContains, unmapAddress } from "../core/cidr.ts";
import type { Cidr } from "../core/cidr.ts";
import type { ForwardedHeadersConfig } from "../config/types.ts";
import type { HttpHead } from "./head_parser.ts";

/** The combined settings of a frontend and its backend. */
export interface ForwardedHeaderRules {
  /** null: no X-Forwarded-For. */
  readonly forwardFor: {
    /** Name as written, and lowercased for the if-none lookup. */
    readonly header: string;
    readonly lowerHeader: string;
    /** Clients in any of these networks get no header. */
    readonly except: readonly Cidr[];
    readonly ifNone: boolean;
  } | null;
  readonly proto: boolean;
  readonly host: boolean;
}

/**
 * Received headers the proxy replaces rather than appends to: a client must not be able to claim
 * `X-Forwarded-Proto: https` past us. X-Forwarded-For is appended, as HAProxy's forwardfor does.
 */
export function replacedForwardedHeaders(rules: ForwardedHeaderRules): readonly string[] {
  if (rules.proto && rules.host) return ["x-forwarded-proto", "x-forwarded-host"];
  if (rules.proto) return ["x-forwarded-proto"];
  if (rules.host) return ["x-forwarded-host"];
  return NO_HEADERS;
}

const NO_HEADERS: readonly string[] = Object.freeze([]);

/** No header added. */
export const NO_FORWARDED_HEADERS: ForwardedHeaderRules = Object.freeze({ forwardFor: null, proto: false, host: false });

/**
 * Combines a frontend's and a backend's settings as HAProxy does for `option forwardfor`: on if
 * either enables it; the client is skipped if it is in the `except` network of either; the header
 * name is the backend's when the backend enables it (the header is meant for its servers), else the
 * frontend's; `if-none` holds only if every side that enables it says so. Proto and Host: on if
 * either side enables them.
 */
export function combineForwardedHeaders(
  frontend: ForwardedHeadersConfig,
  backend: ForwardedHeadersConfig,
): ForwardedHeaderRules {
  const fe = frontend.forwardFor;
  const be = backend.forwardFor;
  const proto = frontend.forwardedProto || backend.forwardedProto;
  const host = frontend.forwardedHost || backend.forwardedHost;
  if (fe === null && be === null && !proto && !host) return NO_FORWARDED_HEADERS;
  let forwardFor: ForwardedHeaderRules["forwardFor"] = null;
  if (fe !== null || be !== null) {
    const header = (be ?? fe)!.header;
    const except: Cidr[] = [];
    if (fe?.except) except.push(fe.except);
    if (be?.except) except.push(be.except);
    forwardFor = Object.freeze({
      header,
      lowerHeader: header.toLowerCase(),
      except: Object.freeze(except),
      ifNone: (fe === null || fe.ifNone) && (be === null || be.ifNone),
    });
  }
  return Object.freeze({ forwardFor, proto, host });
}

/**
 * The X-Forwarded-For value for a client address, or null when the client is excepted (decided once
 * per connection). IPv4-mapped IPv6 addresses are shown as plain IPv4.
 */
export function forwardForValue(rules: ForwardedHeaderRules, clientAddress: string): string | null {
  const forwardFor = rules.forwardFor;
  if (forwardFor === null || clientAddress === "") return null;
  const except = forwardFor.except;
  for (let i = 0; i < except.length; i++) if (cidrContains(except[i]!, clientAddress)) return null;
  return unmapAddress(clientAddress);
}

function hasHeader(head: HttpHead, lowerName: string): boolean {
  const names = head.headerLowerNames;
  for (let i = 0; i < head.headerCount; i++) if (names[i] === lowerName) return true;
  return false;
}

/**
 * Fills `out` (cleared first) with the headers to add to `request`, flat [name, value, ...], and
 * returns it, or undefined when there are none. `forValue` comes from {@link forwardForValue}.
 * `requestHost` is the request's Host (undefined: no X-Forwarded-Host); `secure`: the client came
 * over TLS (`X-Forwarded-Proto: https`).
 */
export function forwardedHeaders(
  rules: ForwardedHeaderRules,
  request: HttpHead,
  forValue: string | null,
  requestHost: string | undefined,
  secure: boolean,
  out: string[],
): string[] | undefined {
  out.length = 0;
  const forwardFor = rules.forwardFor;
  if (forwardFor !== null && forValue !== null && !(forwardFor.ifNone && hasHeader(request, forwardFor.lowerHeader))) {
    out.push(forwardFor.header, forValue);
  }
  if (rules.proto) out.push("X-Forwarded-Proto", secure ? "https" : "http");
  if (rules.host && requestHost !== undefined && requestHost !== "") out.push("X-Forwarded-Host", requestHost);
  return out.length === 0 ? undefined : out;
}
