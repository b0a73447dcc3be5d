/**
 * Request conditions, the frontend router, http-request/http-response rules and the head
 * mutations they rely on. Heads are parsed from raw bytes; configs are built as plain objects,
 * as the validator produces them.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { HEAD_FAILED, HEAD_INCOMPLETE, HeadParser } from "../src/http/head_parser.ts";
import { serializeHead } from "../src/http/serialize.ts";
import { ALWAYS, compileCondition, compileGuard, requestHost, targetParts } from "../src/http/conditions.ts";
import { Router } from "../src/http/router.ts";
import { reasonPhrase, renderAnswer, replacePath, RequestRules, ResponseRules } from "../src/http/rules.ts";
import type { RuleAnswer } from "../src/http/rules.ts";
import { parseCidr } from "../src/core/cidr.ts";
import type { Cidr } from "../src/core/cidr.ts";
import type {
  ConditionConfig,
  HeaderMatcherConfig,
  HttpRequestRuleConfig,
  HttpResponseRuleConfig,
  RuleGuardConfig,
} from "../src/config/types.ts";
import { latin1Bytes as bytes, latin1Text as text } from "./_runtime_helpers.ts";

function parse(kind: "request" | "response", raw: string, requestMethod = ""): HeadParser {
  const parser = new HeadParser(kind);
  parser.reset(requestMethod);
  const end = parser.feed(bytes(raw));
  assert.notEqual(end, HEAD_FAILED, parser.error?.message);
  assert.notEqual(end, HEAD_INCOMPLETE);
  return parser;
}

/** A request head; `headers` are CRLF-terminated lines. */
function request(line: string, ...headers: string[]): HeadParser {
  return parse("request", `${line}\r\n${headers.map((h) => h + "\r\n").join("")}\r\n`);
}

const EMPTY: ConditionConfig = Object.freeze({
  hosts: null,
  paths: null,
  pathPrefixes: null,
  pathRegex: null,
  methods: null,
  headers: null,
  sources: null,
  tls: null,
  sni: null,
  alpn: null,
  clientCert: null,
  ppAuthority: null,
});

function condition(fields: Partial<ConditionConfig>): ConditionConfig {
  return { ...EMPTY, ...fields };
}

function header(name: string, fields: Partial<HeaderMatcherConfig> = {}): HeaderMatcherConfig {
  return { name, lowerName: name.toLowerCase(), present: true, equals: null, regex: null, ...fields };
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  assert.equal(typeof parsed, "object", text);
  return parsed as Cidr;
}

function when(fields: Partial<ConditionConfig>, negate = false): RuleGuardConfig {
  return { condition: condition(fields), negate };
}

const CLIENT = "192.0.2.10";

function matches(fields: Partial<ConditionConfig>, head: HeadParser, client = CLIENT): boolean {
  return compileCondition(condition(fields)).matches(head, client);
}

// ---------------------------------------------------------------------------------------------
// Conditions

test("an empty condition matches every request", () => {
  assert.equal(matches({}, request("GET / HTTP/1.1", "Host: a")), true);
  assert.equal(matches({}, request("OPTIONS * HTTP/1.1", "Host: a")), true);
});

test("host: port, case, trailing dot, wildcard", () => {
  const head = request("GET / HTTP/1.1", "Host: WWW.Example.COM.:8080");
  assert.equal(matches({ hosts: ["www.example.com"] }, head), true);
  assert.equal(matches({ hosts: ["WWW.EXAMPLE.COM."] }, head), true);
  assert.equal(matches({ hosts: ["example.com"] }, head), false);
  assert.equal(matches({ hosts: ["other.org", "www.example.com"] }, head), true);
  assert.equal(matches({ hosts: ["*.example.com"] }, head), true);
  assert.equal(matches({ hosts: ["*.example.com"] }, request("GET / HTTP/1.1", "Host: a.b.example.com")), true);
  assert.equal(matches({ hosts: ["*.example.com"] }, request("GET / HTTP/1.1", "Host: example.com")), false);
  assert.equal(matches({ hosts: ["*.example.com"] }, request("GET / HTTP/1.1", "Host: badexample.com")), false);
  assert.equal(matches({ hosts: [] }, head), false);
});

test("host: IPv6 literals with and without a port", () => {
  const withPort = request("GET / HTTP/1.1", "Host: [::1]:8080");
  assert.equal(requestHost(withPort), "::1");
  assert.equal(matches({ hosts: ["::1"] }, withPort), true);
  assert.equal(matches({ hosts: ["[::1]"] }, withPort), true);
  assert.equal(matches({ hosts: ["[2001:DB8::1]"] }, request("GET / HTTP/1.1", "Host: [2001:db8::1]")), true);
  assert.equal(requestHost(request("GET / HTTP/1.1", "Host: 10.0.0.1:80")), "10.0.0.1");
});

test("host: an HTTP/1.0 request without Host matches no host", () => {
  const head = request("GET / HTTP/1.0");
  assert.equal(requestHost(head), undefined);
  assert.equal(matches({ hosts: ["example.com"] }, head), false);
});

test("host: the authority of an absolute-form target wins over Host, for host and header matchers alike", () => {
  const head = request("GET http://Api.Example.com:81/v1?x=1 HTTP/1.1", "Host: www.example.com");
  assert.equal(requestHost(head), "api.example.com");
  assert.equal(matches({ hosts: ["api.example.com"] }, head), true);
  assert.equal(matches({ hosts: ["www.example.com"] }, head), false);
  // RFC 9112 3.2.2: the received Host is replaced, so a header matcher sees the authority too.
  assert.equal(matches({ headers: [header("Host", { equals: "Api.Example.com:81" })] }, head), true);
  assert.equal(matches({ headers: [header("Host", { equals: "www.example.com" })] }, head), false);
});

test("head mutations: setting Host on an absolute-form request moves the target's authority along", () => {
  const head = request("GET http://a.example:8080/p?q HTTP/1.1", "Host: a.example:8080");
  head.setHeader("Host", "b.example");
  assert.equal(head.target, "http://b.example/p?q");
  assert.equal(requestHost(head), "b.example");
  assert.equal(text(serializeHead(head)), "GET http://b.example/p?q HTTP/1.1\r\nHost: b.example\r\n\r\n");
  const bare = request("GET https://a.example HTTP/1.1", "Host: a.example");
  bare.setHeader("Host", "[::1]:8443");
  assert.equal(bare.target, "https://[::1]:8443");
  // Origin-form, asterisk-form and CONNECT's authority-form targets stay as they are.
  for (const line of ["GET /p HTTP/1.1", "OPTIONS * HTTP/1.1", "CONNECT a.example:443 HTTP/1.1"]) {
    const other = request(line, "Host: a.example");
    const target = other.target;
    other.setHeader("Host", "b.example");
    assert.equal(other.target, target, line);
  }
});

test("path: exact, prefix and regex, query ignored", () => {
  const head = request("GET /api/users?id=3 HTTP/1.1", "Host: a");
  assert.equal(matches({ paths: ["/api/users"] }, head), true);
  assert.equal(matches({ paths: ["/api/users?id=3"] }, head), false);
  assert.equal(matches({ paths: ["/x", "/api/users"] }, head), true);
  assert.equal(matches({ pathPrefixes: ["/api/"] }, head), true);
  assert.equal(matches({ pathPrefixes: ["/ap"] }, head), true, "a plain string prefix");
  assert.equal(matches({ pathPrefixes: ["/static", "/img"] }, head), false);
  assert.equal(matches({ pathRegex: /^\/api\/[a-z]+$/ }, head), true);
  assert.equal(matches({ pathRegex: /id=/ }, head), false);
  // A g flag would make test() stateful; the condition must give the same answer every time.
  const global = compileCondition(condition({ pathRegex: /users/g }));
  assert.equal(global.matches(head, CLIENT), true);
  assert.equal(global.matches(head, CLIENT), true);
  // Both path matchers must hold.
  assert.equal(matches({ pathPrefixes: ["/api"], pathRegex: /admin/ }, head), false);
});

test("path: absolute-form targets and targets without a path", () => {
  assert.equal(matches({ paths: ["/p"] }, request("GET http://h/p?q HTTP/1.1", "Host: h")), true);
  assert.equal(matches({ paths: ["/"] }, request("GET http://h HTTP/1.1", "Host: h")), true);
  assert.equal(matches({ paths: ["/"] }, request("GET https://h?q=1 HTTP/1.1", "Host: h")), true);
  assert.equal(matches({ pathPrefixes: ["/"] }, request("OPTIONS * HTTP/1.1", "Host: h")), false);
  assert.equal(matches({ pathPrefixes: [""] }, request("CONNECT h:443 HTTP/1.1", "Host: h:443")), false);
  const parts = targetParts("http://h:1/a/b?c");
  assert.equal(parts.absolute, true);
  assert.equal(parts.authority, "h:1");
  assert.equal(parts.path, "/a/b");
});

test("method: exact and case-sensitive", () => {
  const head = request("POST /x HTTP/1.1", "Host: a", "Content-Length: 0");
  assert.equal(matches({ methods: ["POST"] }, head), true);
  assert.equal(matches({ methods: ["GET", "POST"] }, head), true);
  assert.equal(matches({ methods: ["post"] }, head), false);
});

test("headers: presence, absence, equals, regex, repeated headers, no comma splitting", () => {
  const head = request("GET / HTTP/1.1", "Host: a", "X-Env: staging", "x-env: prod", "Accept: a/b, c/d");
  assert.equal(matches({ headers: [header("X-Env")] }, head), true);
  assert.equal(matches({ headers: [header("X-Missing")] }, head), false);
  assert.equal(matches({ headers: [header("X-Missing", { present: false })] }, head), true);
  assert.equal(matches({ headers: [header("x-env", { present: false })] }, head), false);
  assert.equal(matches({ headers: [header("X-Env", { equals: "prod" })] }, head), true, "the second value");
  assert.equal(matches({ headers: [header("X-Env", { equals: "Prod" })] }, head), false);
  assert.equal(matches({ headers: [header("X-Env", { regex: /^stag/ })] }, head), true);
  assert.equal(matches({ headers: [header("Accept", { equals: "c/d" })] }, head), false);
  assert.equal(matches({ headers: [header("Accept", { equals: "a/b, c/d" })] }, head), true);
  // Every header test must pass.
  assert.equal(matches({ headers: [header("X-Env", { equals: "prod" }), header("Accept")] }, head), true);
  assert.equal(matches({ headers: [header("X-Env", { equals: "prod" }), header("Cookie")] }, head), false);
});

test("sources: IPv4, IPv6 and IPv4-mapped client addresses", () => {
  const head = request("GET / HTTP/1.1", "Host: a");
  const sources = [cidr("10.0.0.0/8"), cidr("2001:db8::/32")];
  assert.equal(matches({ sources }, head, "10.1.2.3"), true);
  assert.equal(matches({ sources }, head, "::ffff:10.1.2.3"), true);
  assert.equal(matches({ sources }, head, "2001:db8::5"), true);
  assert.equal(matches({ sources }, head, "192.0.2.1"), false);
});

test("every matcher given must match", () => {
  const head = request("GET /admin HTTP/1.1", "Host: example.com");
  const fields: Partial<ConditionConfig> = {
    hosts: ["example.com"],
    pathPrefixes: ["/admin"],
    methods: ["GET"],
    sources: [cidr("192.0.2.0/24")],
  };
  assert.equal(matches(fields, head), true);
  assert.equal(matches(fields, head, "198.51.100.1"), false);
  assert.equal(matches({ ...fields, methods: ["POST"] }, head), false);
});

test("guards: none, if and unless", () => {
  const head = request("GET /x HTTP/1.1", "Host: a");
  assert.equal(compileGuard(null), ALWAYS);
  assert.equal(ALWAYS.applies(head, CLIENT), true);
  assert.equal(compileGuard(when({ paths: ["/x"] })).applies(head, CLIENT), true);
  assert.equal(compileGuard(when({ paths: ["/x"] }, true)).applies(head, CLIENT), false);
  assert.equal(compileGuard(when({ paths: ["/y"] }, true)).applies(head, CLIENT), true);
});

test("conditions see a rewritten target and Host (the memo follows the strings)", () => {
  const head = request("GET /old HTTP/1.1", "Host: a.example");
  const old = compileCondition(condition({ paths: ["/old"], hosts: ["a.example"] }));
  assert.equal(old.matches(head, CLIENT), true);
  head.setTarget("/new");
  assert.equal(old.matches(head, CLIENT), false);
  head.setTarget("/old");
  head.setHeader("Host", "b.example");
  assert.equal(old.matches(head, CLIENT), false);
});

// ---------------------------------------------------------------------------------------------
// Router

test("router: first matching route wins, else the fallback", () => {
  const router = new Router<string>([
    { condition: condition({ pathPrefixes: ["/api"] }), target: "api" },
    { condition: condition({ hosts: ["static.example.com"] }), target: "static" },
    { condition: condition({ pathPrefixes: ["/api/v2"] }), target: "never" },
  ], "default");
  assert.equal(router.size, 3);
  assert.equal(router.pick(request("GET /api/v2/x HTTP/1.1", "Host: static.example.com"), CLIENT), "api");
  assert.equal(router.pick(request("GET /img HTTP/1.1", "Host: static.example.com"), CLIENT), "static");
  assert.equal(router.pick(request("GET /img HTTP/1.1", "Host: www.example.com"), CLIENT), "default");
});

test("router: no fallback gives null; no routes gives the fallback", () => {
  const routed = new Router<string>([{ condition: condition({ methods: ["POST"] }), target: "post" }], null);
  assert.equal(routed.pick(request("GET / HTTP/1.1", "Host: a"), CLIENT), null);
  const empty = new Router<number>([], 7);
  assert.equal(empty.size, 0);
  assert.equal(empty.pick(request("GET / HTTP/1.1", "Host: a"), CLIENT), 7);
});

// ---------------------------------------------------------------------------------------------
// Head mutations

test("head mutations keep the parallel arrays consistent and serialize as expected", () => {
  const head = request("GET /a?q=1 HTTP/1.1", "Host: h", "X-A: 1", "Accept: */*", "x-a: 2", "X-B: b");
  head.setHeader("X-A", "new");
  assert.equal(head.headerCount, 4);
  assert.deepEqual(head.headers(), [["Host", "h"], ["Accept", "*/*"], ["X-B", "b"], ["X-A", "new"]]);
  assert.deepEqual(head.headerLowerNames.slice(0, head.headerCount), ["host", "accept", "x-b", "x-a"]);
  head.addHeader("X-B", "b2");
  head.deleteHeader("accept");
  head.deleteHeader("x-none");
  head.setTarget("/z?q=1");
  assert.equal(head.headerValue("x-b"), "b");
  assert.equal(head.headerValue("accept"), undefined);
  assert.equal(
    text(serializeHead(head)),
    "GET /z?q=1 HTTP/1.1\r\nHost: h\r\nX-B: b\r\nX-A: new\r\nX-B: b2\r\n\r\n",
  );
});

test("head mutations: stale slots past headerCount are reused", () => {
  const head = request("GET / HTTP/1.1", "Host: h", "A: 1", "B: 2", "C: 3");
  head.deleteHeader("a");
  head.deleteHeader("b");
  assert.equal(head.headerCount, 2);
  head.addHeader("D", "4");
  assert.equal(head.headerCount, 3);
  assert.equal(text(serializeHead(head)), "GET / HTTP/1.1\r\nHost: h\r\nC: 3\r\nD: 4\r\n\r\n");
});

test("head mutations: the host field follows Host, framing fields do not change", () => {
  const head = request("POST / HTTP/1.1", "Host: a", "Content-Length: 5", "Connection: keep-alive");
  const framing = [head.bodyKind, head.contentLength, head.chunked, head.keepAlive, [...head.connectionTokens]];
  head.setHeader("Host", "b");
  assert.equal(head.host, "b");
  head.deleteHeader("host");
  assert.equal(head.host, undefined);
  head.addHeader("Host", "c");
  assert.equal(head.host, "c");
  head.addHeader("Host", "d");
  assert.equal(head.host, "c", "the first value");
  head.setHeader("X-Other", "1");
  assert.deepEqual([head.bodyKind, head.contentLength, head.chunked, head.keepAlive, [...head.connectionTokens]], framing);
  assert.equal(
    text(serializeHead(head)),
    "POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: c\r\nHost: d\r\nX-Other: 1\r\n\r\n",
  );
});

test("head mutations on a response head", () => {
  const head = parse("response", "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 0\r\n\r\n", "GET");
  head.setHeader("Server", "proxy");
  head.addHeader("Host", "not-a-request");
  assert.equal(head.host, undefined, "a response has no host field");
  assert.equal(text(serializeHead(head)), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nServer: proxy\r\nHost: not-a-request\r\n\r\n");
});

// ---------------------------------------------------------------------------------------------
// http-request rules

test("empty rule lists are flagged and shared", () => {
  assert.equal(RequestRules.EMPTY.isEmpty, true);
  assert.equal(ResponseRules.EMPTY.isEmpty, true);
  assert.equal(new RequestRules([]).isEmpty, true);
  assert.equal(RequestRules.EMPTY.apply(request("GET / HTTP/1.1", "Host: a"), CLIENT), null);
  assert.equal(new RequestRules([{ action: "deny", status: 403, when: null }]).isEmpty, false);
});

test("request header actions run in order and honour guards", () => {
  const rules = new RequestRules([
    { action: "set-header", name: "X-Env", value: "prod", when: null },
    { action: "add-header", name: "X-Tag", value: "a", when: null },
    { action: "add-header", name: "X-Tag", value: "b", when: when({ pathPrefixes: ["/api"] }) },
    { action: "add-header", name: "X-Tag", value: "c", when: when({ pathPrefixes: ["/api"] }, true) },
    { action: "del-header", name: "Cookie", when: null },
  ]);
  const head = request("GET /api HTTP/1.1", "Host: a", "x-env: dev", "Cookie: s=1", "Cookie: t=2");
  assert.equal(rules.apply(head, CLIENT), null);
  assert.equal(
    text(serializeHead(head)),
    "GET /api HTTP/1.1\r\nHost: a\r\nX-Env: prod\r\nX-Tag: a\r\nX-Tag: b\r\n\r\n",
  );
});

test("a rule sees the changes of the rules before it", () => {
  const rules = new RequestRules([
    { action: "set-header", name: "Host", value: "internal.example", when: null },
    { action: "set-path", path: "/v2", when: when({ hosts: ["internal.example"] }) },
    { action: "add-header", name: "X-Rewritten", value: "1", when: when({ paths: ["/v2"] }) },
  ]);
  const head = request("GET /v1?a=b HTTP/1.1", "Host: public.example");
  assert.equal(rules.apply(head, CLIENT), null);
  assert.equal(head.host, "internal.example");
  assert.equal(
    text(serializeHead(head)),
    "GET /v2?a=b HTTP/1.1\r\nHost: internal.example\r\nX-Rewritten: 1\r\n\r\n",
  );
});

test("set-path keeps the query and an absolute-form target's scheme and authority", () => {
  assert.equal(replacePath("/a/b?x=1&y", "/c"), "/c?x=1&y");
  assert.equal(replacePath("/a/b", "/c"), "/c");
  assert.equal(replacePath("/a?", "/c"), "/c?");
  assert.equal(replacePath("http://h:8/a?q", "/c"), "http://h:8/c?q");
  assert.equal(replacePath("http://h", "/c"), "http://h/c");
  assert.equal(replacePath("http://h?q", "/c"), "http://h/c?q");
  assert.equal(replacePath("*", "/c"), "*", "no path to replace");
  const head = request("GET http://h/a?q HTTP/1.1", "Host: h");
  new RequestRules([{ action: "set-path", path: "/b", when: null }]).apply(head, CLIENT);
  assert.equal(head.target, "http://h/b?q");
});

test("deny: a shared frozen verdict, later rules not run", () => {
  const rules = new RequestRules([
    { action: "deny", status: 403, when: when({ pathPrefixes: ["/admin"] }) },
    { action: "add-header", name: "X-After", value: "1", when: null },
  ]);
  const first = request("GET /admin HTTP/1.1", "Host: a");
  const verdict = rules.apply(first, CLIENT);
  assert.deepEqual(verdict, { kind: "deny", status: 403 });
  assert.equal(Object.isFrozen(verdict), true);
  assert.equal(first.headerValue("x-after"), undefined);
  assert.equal(rules.apply(request("GET /admin/x HTTP/1.1", "Host: a"), CLIENT), verdict);
  assert.equal(rules.apply(request("GET /public HTTP/1.1", "Host: a"), CLIENT), null);
});

test("return: content type, UTF-8 body encoded once, shared verdict", () => {
  const rules = new RequestRules([
    { action: "return", status: 200, contentType: "text/plain; charset=utf-8", body: "héllo\n", when: null },
  ]);
  const verdict = rules.apply(request("GET / HTTP/1.1", "Host: a"), CLIENT) as RuleAnswer;
  assert.equal(verdict.kind, "answer");
  assert.equal(verdict.status, 200);
  assert.deepEqual(verdict.headers, ["Content-Type", "text/plain; charset=utf-8"]);
  assert.deepEqual([...verdict.body], [...new TextEncoder().encode("héllo\n")]);
  assert.equal(Object.isFrozen(verdict), true);
  assert.equal(rules.apply(request("GET /other HTTP/1.1", "Host: a"), CLIENT), verdict);
  const bare = new RequestRules([{ action: "return", status: 204, contentType: "", body: "", when: null }]);
  assert.deepEqual((bare.apply(request("GET / HTTP/1.1", "Host: a"), CLIENT) as RuleAnswer).headers, []);
});

type Redirect = Extract<HttpRequestRuleConfig, { action: "redirect" }>;

function redirect(fields: Partial<Redirect>, head: HeadParser): RuleAnswer {
  const rule: Redirect = {
    action: "redirect",
    code: 302,
    location: null,
    prefix: null,
    scheme: null,
    dropQuery: false,
    when: null,
    ...fields,
  };
  const verdict = new RequestRules([rule]).apply(head, CLIENT);
  assert.ok(verdict !== null && verdict.kind === "answer");
  assert.equal(verdict.body.length, 0);
  return verdict;
}

function location(answer: RuleAnswer): string | undefined {
  const index = answer.headers.indexOf("Location");
  return index < 0 ? undefined : answer.headers[index + 1];
}

test("redirect location: sent as is, query never added", () => {
  const answer = redirect({ location: "https://example.com/maintenance", code: 301 }, request("GET /a?b HTTP/1.1", "Host: h"));
  assert.equal(answer.status, 301);
  assert.deepEqual(answer.headers, ["Location", "https://example.com/maintenance"]);
});

test("redirect prefix: prefix + path and query, dropQuery, the \"/\" special case", () => {
  const head = () => request("GET /a/b?x=1 HTTP/1.1", "Host: h");
  assert.equal(location(redirect({ prefix: "https://new.example" }, head())), "https://new.example/a/b?x=1");
  assert.equal(location(redirect({ prefix: "https://new.example", dropQuery: true }, head())), "https://new.example/a/b");
  assert.equal(location(redirect({ prefix: "/" }, head())), "/a/b?x=1");
  assert.equal(location(redirect({ prefix: "/", dropQuery: true }, head())), "/a/b");
  assert.equal(location(redirect({ prefix: "/v2" }, head())), "/v2/a/b?x=1");
  // An absolute-form target contributes its path and query only.
  assert.equal(location(redirect({ prefix: "https://n" }, request("GET http://h/p?q HTTP/1.1", "Host: h"))), "https://n/p?q");
  assert.equal(location(redirect({ prefix: "https://n" }, request("GET http://h?q HTTP/1.1", "Host: h"))), "https://n/?q");
});

test("redirect scheme: scheme://Host + path, with and without query", () => {
  const head = () => request("GET /login?next=%2F HTTP/1.1", "Host: www.example.com:8080");
  assert.equal(location(redirect({ scheme: "https" }, head())), "https://www.example.com:8080/login?next=%2F");
  assert.equal(location(redirect({ scheme: "https", dropQuery: true }, head())), "https://www.example.com:8080/login");
  // No Host: the target alone.
  assert.equal(location(redirect({ scheme: "https" }, request("GET /x?y HTTP/1.0"))), "/x?y");
  // An absolute-form target's authority is the host.
  assert.equal(
    location(redirect({ scheme: "https" }, request("GET http://a.example/p HTTP/1.1", "Host: b.example"))),
    "https://a.example/p",
  );
});

test("redirect codes: 302, 303 and 307 are not cacheable, 301 and 308 are", () => {
  const head = () => request("GET / HTTP/1.1", "Host: h");
  for (const code of [301, 302, 303, 307, 308] as const) {
    const answer = redirect({ location: "/x", code }, head());
    assert.equal(answer.status, code);
    const noCache = answer.headers.includes("Cache-Control");
    assert.equal(noCache, code === 302 || code === 303 || code === 307, String(code));
  }
});

test("redirect honours its guard and sees earlier rewrites", () => {
  const rules = new RequestRules([
    { action: "set-path", path: "/moved", when: null },
    {
      action: "redirect",
      code: 308,
      location: null,
      prefix: "https://h",
      scheme: null,
      dropQuery: false,
      when: when({ sources: [cidr("10.0.0.0/8")] }, true),
    },
  ]);
  assert.equal(rules.apply(request("GET /x?q HTTP/1.1", "Host: h"), "10.0.0.1"), null);
  const answer = rules.apply(request("GET /x?q HTTP/1.1", "Host: h"), CLIENT) as RuleAnswer;
  assert.equal(location(answer), "https://h/moved?q");
});

// ---------------------------------------------------------------------------------------------
// http-response rules

test("response rules mutate the response, guards read the request", () => {
  const rules: HttpResponseRuleConfig[] = [
    { action: "set-header", name: "Server", value: "proxy", when: null },
    { action: "del-header", name: "X-Powered-By", when: null },
    { action: "add-header", name: "Cache-Control", value: "no-store", when: when({ pathPrefixes: ["/api"] }) },
    { action: "add-header", name: "X-Static", value: "1", when: when({ pathPrefixes: ["/api"] }, true) },
  ];
  const compiled = new ResponseRules(rules);
  assert.equal(compiled.isEmpty, false);
  const raw = "HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Powered-By: PHP\r\nContent-Length: 2\r\n\r\n";
  const api = parse("response", raw, "GET");
  compiled.apply(api, request("GET /api/x HTTP/1.1", "Host: h"), CLIENT);
  assert.equal(
    text(serializeHead(api)),
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: proxy\r\nCache-Control: no-store\r\n\r\n",
  );
  const page = parse("response", raw, "GET");
  compiled.apply(page, request("GET /index.html HTTP/1.1", "Host: h"), CLIENT);
  assert.equal(text(serializeHead(page)), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: proxy\r\nX-Static: 1\r\n\r\n");
  assert.equal(page.contentLength, 2);
});

// ---------------------------------------------------------------------------------------------
// renderAnswer

test("renderAnswer: status line, headers, Content-Length, Connection, body", () => {
  const answer: RuleAnswer = { kind: "answer", status: 200, headers: ["Content-Type", "text/plain"], body: bytes("ok") };
  assert.equal(text(renderAnswer(answer, null)), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
  assert.equal(
    text(renderAnswer(answer, "close")),
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
  );
  assert.equal(
    text(renderAnswer(answer, "keep-alive")),
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok",
  );
  const redirectBytes = renderAnswer(redirect({ location: "/x" }, request("GET / HTTP/1.1", "Host: h")), null);
  assert.equal(text(redirectBytes), "HTTP/1.1 302 Found\r\nLocation: /x\r\nCache-Control: no-cache\r\nContent-Length: 0\r\n\r\n");
  assert.equal(
    text(renderAnswer({ kind: "answer", status: 299, headers: [], body: new Uint8Array(0) }, null)),
    "HTTP/1.1 299 Unknown\r\nContent-Length: 0\r\n\r\n",
  );
  assert.equal(reasonPhrase(503), "Service Unavailable");
  assert.equal(reasonPhrase(308), "Permanent Redirect");
});

test("renderAnswer: UTF-8 body bytes, rendered once for a shared answer", () => {
  const rules = new RequestRules([{ action: "return", status: 404, contentType: "text/plain", body: "nö", when: null }]);
  const verdict = rules.apply(request("GET / HTTP/1.1", "Host: h"), CLIENT) as RuleAnswer;
  const first = renderAnswer(verdict, "close");
  assert.equal(text(first), "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nn\xc3\xb6");
  assert.equal(renderAnswer(verdict, "close"), first);
  assert.notEqual(renderAnswer(verdict, null), first);
});
