/**
 * `http-request` and `http-response` rules, compiled once per section and run in order on each
 * message: header actions and set-path rewrite the head in place; redirect, deny and return stop
 * the evaluation with a verdict the session answers.
 *
 * Values are literal strings: HAProxy's log-format expressions ("%[src]") are not evaluated, a
 * value is sent exactly as configured. The configuration guarantees header values and paths are
 * latin1 without CR, LF or NUL, and that no rule names a framing or hop-by-hop header
 * (content-length, transfer-encoding, connection, ...), so the framing parsed from the received
 * head stays valid.
 *
 * Redirects follow HAProxy (http_apply_redirect_rule): `location` is sent as is; `prefix` is
 * put before the request's path and query ("/" alone keeps the original path, so a redirect to
 * the same URL is written `prefix = "/"`); `scheme` gives scheme://host + path and query, host
 * being an absolute-form target's authority or the Host header (without either: the path and
 * query alone). A target without a path counts as "/". 302, 303 and 307 carry
 * `Cache-Control: no-cache`, as HAProxy's do.
 *
 * @module
 */

import { compileGuard, hostHeader, targetParts } from "./conditions.ts";
import type { ConditionClient, RuleGuard } from "./conditions.ts";
import type { HttpRequestRuleConfig, HttpResponseRuleConfig } from "../config/types.ts";
import type { HeadParser, HttpHead } from "./head_parser.ts";

/** The session answers with its error page for `status` (errorfiles included). */
export interface DenyVerdict {
  readonly kind: "deny";
  readonly status: number;
}

/** The session sends this response (see `renderAnswer`). Do not modify it: it may be shared. */
export interface RuleAnswer {
  readonly kind: "answer";
  readonly status: number;
  /** Flat [name, value, ...]; Content-Length and Connection are added by `renderAnswer`. */
  readonly headers: readonly string[];
  readonly body: Uint8Array;
}

/** What the request rules decided: null forwards the request. */
export type RuleVerdict = DenyVerdict | RuleAnswer | null;

const OP_SET_HEADER = 0;
const OP_ADD_HEADER = 1;
const OP_DEL_HEADER = 2;
const OP_SET_PATH = 3;
const OP_REDIRECT = 4;
const OP_STOP = 5;

const EMPTY_BODY = new Uint8Array(0);
const UTF8 = new TextEncoder();

/** One compiled rule; the fields an action does not use hold neutral values (one shape for all). */
class CompiledRule {
  readonly op: number;
  readonly guard: RuleGuard;
  readonly name: string;
  readonly lowerName: string;
  /** Header value, or the new path of set-path. */
  readonly value: string;
  /** deny/return: the shared verdict. */
  readonly verdict: RuleVerdict;
  readonly code: number;
  readonly location: string | null;
  readonly prefix: string | null;
  readonly scheme: string | null;
  readonly dropQuery: boolean;

  constructor(config: HttpRequestRuleConfig) {
    this.guard = compileGuard(config.when);
    let op = OP_STOP;
    let name = "";
    let value = "";
    let verdict: RuleVerdict = null;
    let code = 0;
    let location: string | null = null;
    let prefix: string | null = null;
    let scheme: string | null = null;
    let dropQuery = false;
    switch (config.action) {
      case "set-header":
      case "add-header":
        op = config.action === "set-header" ? OP_SET_HEADER : OP_ADD_HEADER;
        name = config.name;
        value = config.value;
        break;
      case "del-header":
        op = OP_DEL_HEADER;
        name = config.name;
        break;
      case "set-path":
        op = OP_SET_PATH;
        value = config.path;
        break;
      case "redirect":
        op = OP_REDIRECT;
        code = config.code;
        location = config.location;
        prefix = config.prefix;
        scheme = config.scheme;
        dropQuery = config.dropQuery;
        break;
      case "deny":
        verdict = Object.freeze({ kind: "deny", status: config.status });
        break;
      case "return":
        verdict = Object.freeze({
          kind: "answer",
          status: config.status,
          headers: Object.freeze(config.contentType === "" ? [] : ["Content-Type", config.contentType]),
          body: UTF8.encode(config.body),
        });
        break;
    }
    this.op = op;
    this.name = name;
    this.lowerName = name.toLowerCase();
    this.value = value;
    this.verdict = verdict;
    this.code = code;
    this.location = location;
    this.prefix = prefix;
    this.scheme = scheme;
    this.dropQuery = dropQuery;
  }
}

/** The target with its path replaced by `path`, query (and scheme://authority) kept; unchanged without a path. */
export function replacePath(target: string, path: string): string {
  const parts = targetParts(target);
  const start = parts.pathStart;
  if (start < 0) return target;
  const query = parts.queryStart;
  if (start === 0 && query === target.length) return path;
  return target.slice(0, start) + path + target.slice(query);
}

/** The path and query of `target` as a redirect uses them ("/" when it has no path). */
function redirectPath(target: string, dropQuery: boolean): string {
  const parts = targetParts(target);
  const start = parts.pathStart;
  if (start < 0) return "/";
  const query = parts.queryStart;
  const end = dropQuery ? query : target.length;
  if (start === query) return end === query ? "/" : "/" + target.slice(query, end);
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

function redirectAnswer(rule: CompiledRule, head: HttpHead): RuleAnswer {
  let location: string;
  if (rule.location !== null) {
    location = rule.location;
  } else {
    const path = redirectPath(head.target, rule.dropQuery);
    if (rule.prefix !== null) {
      location = rule.prefix === "/" ? path : rule.prefix + path;
    } else {
      const host = targetParts(head.target).authority ?? hostHeader(head);
      location = host === undefined || host === "" ? path : rule.scheme + "://" + host + path;
    }
  }
  const code = rule.code;
  return {
    kind: "answer",
    status: code,
    // Temporary redirects must not be cached by the client (HAProxy adds the same header).
    headers: code === 302 || code === 303 || code === 307
      ? ["Location", location, "Cache-Control", "no-cache"]
      : ["Location", location],
    body: EMPTY_BODY,
  };
}

/** A section's `http-request` rules. */
export class RequestRules {
  /** No rules: sessions test `isEmpty` and skip `apply`. */
  static readonly EMPTY: RequestRules = new RequestRules([]);

  readonly isEmpty: boolean;
  readonly #rules: readonly CompiledRule[];

  constructor(rules: readonly HttpRequestRuleConfig[]) {
    this.#rules = rules.map((rule) => new CompiledRule(rule));
    this.isEmpty = this.#rules.length === 0;
  }

  /** Runs the rules in order on the request head (mutating it); the verdict of the first stopping rule, or null. */
  apply(head: HeadParser, clientAddress: string, client: ConditionClient | undefined = undefined): RuleVerdict {
    const rules = this.#rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!rule.guard.applies(head, clientAddress, client)) continue;
      switch (rule.op) {
        case OP_SET_HEADER:
          head.setHeader(rule.name, rule.value, rule.lowerName);
          break;
        case OP_ADD_HEADER:
          head.addHeader(rule.name, rule.value, rule.lowerName);
          break;
        case OP_DEL_HEADER:
          head.deleteHeader(rule.lowerName);
          break;
        case OP_SET_PATH:
          head.setTarget(replacePath(head.target, rule.value));
          break;
        case OP_REDIRECT:
          return redirectAnswer(rule, head);
        default:
          return rule.verdict;
      }
    }
    return null;
  }
}

/** One compiled response rule. */
class CompiledResponseRule {
  readonly op: number;
  readonly guard: RuleGuard;
  readonly name: string;
  readonly lowerName: string;
  readonly value: string;

  constructor(config: HttpResponseRuleConfig) {
    this.guard = compileGuard(config.when);
    this.op = config.action === "set-header" ? OP_SET_HEADER : config.action === "add-header" ? OP_ADD_HEADER : OP_DEL_HEADER;
    this.name = config.name;
    this.lowerName = config.name.toLowerCase();
    this.value = config.action === "del-header" ? "" : config.value;
  }
}

/** A section's `http-response` rules. */
export class ResponseRules {
  /** No rules: sessions test `isEmpty` and skip `apply`. */
  static readonly EMPTY: ResponseRules = new ResponseRules([]);

  readonly isEmpty: boolean;
  readonly #rules: readonly CompiledResponseRule[];

  constructor(rules: readonly HttpResponseRuleConfig[]) {
    this.#rules = rules.map((rule) => new CompiledResponseRule(rule));
    this.isEmpty = this.#rules.length === 0;
  }

  /** Runs the rules on the response head; guards test `request`, the request it answers. */
  apply(response: HeadParser, request: HttpHead, clientAddress: string, client: ConditionClient | undefined = undefined): void {
    const rules = this.#rules;
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (!rule.guard.applies(request, clientAddress, client)) continue;
      if (rule.op === OP_SET_HEADER) response.setHeader(rule.name, rule.value, rule.lowerName);
      else if (rule.op === OP_ADD_HEADER) response.addHeader(rule.name, rule.value, rule.lowerName);
      else response.deleteHeader(rule.lowerName);
    }
  }
}

/** Reason phrases of RFC 9110 15 (and a few registered elsewhere). */
const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  507: "Insufficient Storage",
  508: "Loop Detected",
  511: "Network Authentication Required",
};

/** The standard reason phrase of `status`, or "Unknown". */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "Unknown";
}

/** Rendered shared answers (frozen ones: return verdicts), per Connection header choice. */
const rendered = new WeakMap<RuleAnswer, (Uint8Array | undefined)[]>();

/**
 * The answer as HTTP/1.1 response bytes: status line, its headers, Content-Length, the
 * Connection header when `connection` is given, then the body. The result may be shared between
 * connections: do not modify it.
 */
export function renderAnswer(answer: RuleAnswer, connection: "close" | "keep-alive" | null): Uint8Array {
  const slot = connection === null ? 0 : connection === "close" ? 1 : 2;
  const shared = Object.isFrozen(answer);
  if (shared) {
    const cached = rendered.get(answer)?.[slot];
    if (cached !== undefined) return cached;
  }
  const headers = answer.headers;
  const body = answer.body;
  let head = "HTTP/1.1 " + answer.status + " " + reasonPhrase(answer.status) + "\r\n";
  for (let i = 0; i + 1 < headers.length; i += 2) head += headers[i] + ": " + headers[i + 1] + "\r\n";
  // RFC 9110 8.6: no Content-Length on a 204, and on a 304 it would describe the resource, not this answer.
  if (answer.status !== 204 && answer.status !== 304) head += "Content-Length: " + body.length + "\r\n";
  if (connection !== null) head += "Connection: " + connection + "\r\n";
  head += "\r\n";
  const out = new Uint8Array(head.length + body.length);
  // Header text is latin1 (one byte per code unit), as serialize.ts writes heads.
  for (let i = 0; i < head.length; i++) out[i] = head.charCodeAt(i);
  out.set(body, head.length);
  if (shared) {
    let slots = rendered.get(answer);
    if (slots === undefined) rendered.set(answer, slots = [undefined, undefined, undefined]);
    slots[slot] = out;
  }
  return out;
}
