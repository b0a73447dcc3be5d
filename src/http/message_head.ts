/**
 * The head of one HTTP message as the proxy holds it once parsed: the start line's fields, the
 * header lines in order (parallel arrays of names, lower-case names and values), the facts the
 * headers decide (body framing, persistence, Host, Upgrade, Expect), and the edits the
 * http-request and http-response rules make to it. What reads bytes is the parser (head_parser.ts,
 * a subclass): this model does not know how the head was framed, so that a codec for another
 * protocol can fill one too.
 *
 * The header arrays belong to a storage taken from a shared spare list while the head holds a
 * message (head_storage.ts), given back by {@link MessageHead.clearHead}; without one they are
 * empty and frozen.
 *
 * @module
 */

import { giveBackHeadStorage, NO_STRINGS, takeHeadStorage } from "./head_storage.ts";
import type { HeadStorage } from "./head_storage.ts";
import { replaceAuthority } from "./request_target.ts";
import { BODY_NONE } from "./framing.ts";
import type { BodyKind } from "./framing.ts";

const SLASH = 47;

/** Which side of the exchange a head belongs to. */
export type MessageKind = "request" | "response";

/** A head as the serializer and the rules read it; a {@link MessageHead} (and so a `HeadParser`) is one. */
export interface HttpHead {
  /** "request" or "response". */
  readonly kind: MessageKind;
  /** Request method as received ("" for responses). */
  readonly method: string;
  /** Request target as forwarded: as received, but an absolute-form target without an empty or default port ("" for responses). */
  readonly target: string;
  /** Protocol version: "1.0" or "1.1" (HTTP/1.2 to 1.9 are read as 1.1). */
  readonly version: "1.0" | "1.1";
  /** Response status code (0 for requests). */
  readonly status: number;
  /** Response reason phrase, possibly empty. */
  readonly reason: string;
  /** Number of header fields in the three parallel arrays below. */
  readonly headerCount: number;
  /** Header names as received, in order, duplicates kept (entries past `headerCount` are stale). */
  readonly headerNames: readonly string[];
  /** The same names in lower case, for matching. */
  readonly headerLowerNames: readonly string[];
  /** Header values, leading and trailing whitespace removed. */
  readonly headerValues: readonly string[];
  /** Lower-case tokens of every Connection header, in order (RFC 9110 7.6.1). */
  readonly connectionTokens: readonly string[];
}

/** One message's head: the parsed fields, the facts, and the edits rules make. */
export class MessageHead implements HttpHead {
  readonly kind: MessageKind;

  // Written by the parser (and the facts it derives: head_facts.ts), then by the rules through the
  // methods below; callers read them once the head is complete.
  method = "";
  target = "";
  version: "1.0" | "1.1" = "1.1";
  status = 0;
  reason = "";
  headerCount = 0;
  // The arrays of the storage held (see HeadStorage); empty and frozen without one.
  headerNames: string[] = NO_STRINGS;
  headerLowerNames: string[] = NO_STRINGS;
  headerValues: string[] = NO_STRINGS;
  connectionTokens: string[] = NO_STRINGS;

  /** How the body is delimited. */
  bodyKind: BodyKind = BODY_NONE;
  /** The Content-Length value, when the body is framed by it. */
  contentLength: number | undefined = undefined;
  /** The body is chunked (Transfer-Encoding ends with chunked). */
  chunked = false;
  /**
   * The connection must be closed once this exchange is over: Transfer-Encoding came with
   * Content-Length (RFC 9112 6.1, HAProxy closes too), or a response body runs until close.
   */
  closeAfterResponse = false;
  /** The peer wants the connection kept open: HTTP/1.1 without close, or HTTP/1.0 with keep-alive. */
  keepAlive = true;
  /** A Connection header carries "close". */
  connectionClose = false;
  /** A Connection header carries "keep-alive". */
  connectionKeepAlive = false;
  /** A Connection header carries "upgrade". */
  connectionUpgrade = false;
  /** The Upgrade header value (several joined with ", "), or undefined. */
  upgrade: string | undefined = undefined;
  /** Upgrade names h2c: the proxy must not forward it (nor HTTP2-Settings), see serialize.ts. */
  h2cUpgrade = false;
  /** An HTTP2-Settings header is present (only meaningful with an h2c upgrade). */
  hasHttp2Settings = false;
  /** An HTTP/1.1 request carries "Expect: 100-continue" (RFC 9110 10.1.1; ignored for HTTP/1.0). */
  expectContinue = false;
  /** The Host header value (an absolute-form target's authority), or undefined. */
  host: string | undefined = undefined;
  /** A 1xx response other than 101: a final response follows it (RFC 9110 15.2). */
  interim = false;

  /** The storage of the header arrays while a message is held (see the module notes). */
  protected storage: HeadStorage | null = null;

  constructor(kind: MessageKind) {
    this.kind = kind;
  }

  /** The value of the first header named `lowerName` (lower case), or undefined. */
  headerValue(lowerName: string): string | undefined {
    for (let i = 0; i < this.headerCount; i++) {
      if (this.headerLowerNames[i] === lowerName) return this.headerValues[i];
    }
    return undefined;
  }

  /** The headers as [name, value] pairs, in order (allocates: for tests and diagnostics). */
  headers(): [string, string][] {
    const pairs: [string, string][] = [];
    for (let i = 0; i < this.headerCount; i++) pairs.push([this.headerNames[i]!, this.headerValues[i]!]);
    return pairs;
  }

  // Mutations for http-request/http-response rules. The framing and connection fields keep the
  // values parsed from the received head: rules may not touch the headers behind them (the
  // configuration refuses it), so the message is forwarded with the framing it arrived with.
  // `host` is the exception: routing and X-Forwarded-Host read it after the rules ran.

  /**
   * Removes every header named `name` and appends `name: value`. `lowerName` saves the lowering
   * when the caller has it precomputed; `value` must be latin1 without CR, LF or NUL. Setting Host
   * on an absolute-form request moves its target's authority along, so the two never disagree.
   */
  setHeader(name: string, value: string, lowerName: string = name.toLowerCase()): void {
    this.#removeHeaders(lowerName, false);
    this.#append(name, lowerName, value);
    if (lowerName === "host" && this.kind === "request") {
      this.host = value;
      if (this.target.charCodeAt(0) !== SLASH && this.method !== "CONNECT") this.target = replaceAuthority(this.target, value);
    }
  }

  /** Appends `name: value`, keeping the headers of that name already present. */
  addHeader(name: string, value: string, lowerName: string = name.toLowerCase()): void {
    this.#append(name, lowerName, value);
    // `host` is the first Host value, as the parser sets it.
    if (lowerName === "host" && this.kind === "request" && this.host === undefined) this.host = value;
  }

  /** Removes every header named `lowerName` (lower case), keeping the others in order. */
  deleteHeader(lowerName: string): void {
    this.#removeHeaders(lowerName, false);
    if (lowerName === "host" && this.kind === "request") this.host = undefined;
  }

  /** Replaces the request target (the caller keeps it free of spaces, CR, LF and '#'). */
  setTarget(target: string): void {
    this.target = target;
  }

  /** @internal head_facts.ts: appends a header line as parsed, nothing else updated. */
  appendLine(name: string, lowerName: string, value: string): void {
    this.#append(name, lowerName, value);
  }

  /** @internal head_facts.ts: removes the lines named `lowerName` (all, or all but the first). */
  removeLines(lowerName: string, keepFirst: boolean): void {
    this.#removeHeaders(lowerName, keepFirst);
  }

  /** Takes a storage for the header arrays (a message starts). */
  protected takeStorage(): HeadStorage {
    const storage = takeHeadStorage();
    this.storage = storage;
    this.headerNames = storage.names;
    this.headerLowerNames = storage.lowerNames;
    this.headerValues = storage.values;
    this.connectionTokens = storage.tokens;
    return storage;
  }

  /** Forgets the message: every field back to its initial value, the storage given back. */
  protected clearHead(): void {
    const storage = this.storage;
    if (storage !== null) {
      this.storage = null;
      this.headerNames = NO_STRINGS;
      this.headerLowerNames = NO_STRINGS;
      this.headerValues = NO_STRINGS;
      this.connectionTokens = NO_STRINGS;
      giveBackHeadStorage(storage);
    }
    this.method = "";
    this.target = "";
    this.version = "1.1";
    this.status = 0;
    this.reason = "";
    this.headerCount = 0;
    this.bodyKind = BODY_NONE;
    this.contentLength = undefined;
    this.chunked = false;
    this.closeAfterResponse = false;
    this.keepAlive = true;
    this.connectionClose = false;
    this.connectionKeepAlive = false;
    this.connectionUpgrade = false;
    this.upgrade = undefined;
    this.h2cUpgrade = false;
    this.hasHttp2Settings = false;
    this.expectContinue = false;
    this.host = undefined;
    this.interim = false;
  }

  #append(name: string, lowerName: string, value: string): void {
    if (this.storage === null) this.takeStorage();
    // Entries past headerCount are stale: overwriting them reuses the arrays' slots.
    const index = this.headerCount;
    this.headerNames[index] = name;
    this.headerLowerNames[index] = lowerName;
    this.headerValues[index] = value;
    this.headerCount = index + 1;
  }

  /** Removes the headers named `lowerName` (all of them, or all but the first), keeping the others in order. */
  #removeHeaders(lowerName: string, keepFirst: boolean): void {
    const names = this.headerNames;
    const lowerNames = this.headerLowerNames;
    const values = this.headerValues;
    let kept = 0;
    let seen = false;
    for (let i = 0; i < this.headerCount; i++) {
      if (lowerNames[i] === lowerName) {
        if (!keepFirst || seen) continue;
        seen = true;
      }
      names[kept] = names[i]!;
      lowerNames[kept] = lowerNames[i]!;
      values[kept] = values[i]!;
      kept++;
    }
    this.headerCount = kept;
  }
}
